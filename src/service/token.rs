//! Client and REST access tokens.
