//! See the crate description; filled by the issues that own this layer.

pub mod choice;
pub mod kernel;
pub mod model;
pub mod sysfs;
pub mod vfio;
