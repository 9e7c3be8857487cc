//! Process control: the restart backends.
