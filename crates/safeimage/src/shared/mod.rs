//! What several commands share (argument groups and helpers); no command
//! calls another, they all come here.

pub mod db;
pub mod fleet;
pub mod image;
pub mod keys;
