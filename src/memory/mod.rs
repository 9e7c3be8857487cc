//! Akashic memory: embeddings and vector stores of post-mortems.
