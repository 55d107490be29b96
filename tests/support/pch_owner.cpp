// The owner of the tests' shared precompiled header (tests/CMakeLists.txt): an executable, so
// the header is compiled with the test executables' flags. It tests nothing.
int main() { return 0; }
