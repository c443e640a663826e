//! Operations that change the configuration repository's own files, other than `import`: the
//! secrets of an environment (set, rekey, check).

pub mod secrets;
