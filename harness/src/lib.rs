//! baton library
