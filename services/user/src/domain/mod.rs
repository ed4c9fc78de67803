//! Domain of the user service, free of frameworks.
