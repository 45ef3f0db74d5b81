// Nothing to compile: the header declares libFuzzer's driver, linked from the fuzzer runtime.
#include "CFuzzDriver.h"
