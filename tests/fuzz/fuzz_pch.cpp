// The translation unit that builds the fuzz targets' shared precompiled header (tests/fuzz/CMakeLists.txt).
