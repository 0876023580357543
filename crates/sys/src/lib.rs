//! Custos system calls: the few places that must talk to the kernel about processes and
//! memory, kept in one small crate so the rest of the workspace can forbid `unsafe`.
//!
//! * [`confine`]: per-process confinement as explicit steps (seccomp allow-lists, landlock,
//!   no new privileges, not dumpable, no core dumps, distinct uids, network namespace).
//!   Each process declares its own policy next to its code; this crate only applies it.
//! * [`memory`]: locked, never-dumped pages for secrets, and stack scrubbing.
//!
//! Every `unsafe` block carries a `// SAFETY:` line.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod confine;
pub mod memory;
