//! Forensics snapshot of a hung process, within a time budget.
