//! Finding and opening IAA/DSA devices: the kernel's character devices found through sysfs
//! ([`sysfs`], [`kernel`]), VFIO user mode ([`vfio`]), and the socket-aware WQ choice
//! ([`choice`]), and opening what a user chose as the backend a pool runs on ([`open`]). The software device model is the crate `iaa-model`, above this one.

pub mod choice;
#[cfg(feature = "fixtures")]
pub mod fixture;
pub mod kernel;
pub mod open;
pub mod sysfs;
pub mod vfio;
