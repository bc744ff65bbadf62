/* The libFuzzer entry point of one target, chosen at build time: -DFUZZ_TARGET=fuzz_args, ... */
#include "tests/fuzz/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return FUZZ_TARGET(data, size);
}
