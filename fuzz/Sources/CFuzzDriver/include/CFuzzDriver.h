// libFuzzer's driver entry (LLVM >= 11), for executables that keep their own main.
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
