// Stands in for modules that the built-ins bundle leaves out (see scripts/build.mjs).
