//! Version schemes, one module each, each tested against its reference
//! implementation.

pub mod dpkg;
