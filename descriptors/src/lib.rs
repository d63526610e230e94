//! Hardware layouts (being written).
