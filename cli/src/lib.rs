//! Library part of the `iaa` command: the container format ([`container`], specified in
//! `docs/FORMAT.md`) and the unit codecs it uses ([`codecs`]). Tests and other tools read
//! containers through this crate.

pub mod codecs;
pub mod container;
pub mod progress;
