/*
 * fuzz.h: what every fuzz target defines. make fuzz runs the target under
 * libFuzzer; make check runs it over the inputs of the source tree with
 * replay.c, which also checks what each input is expected to do.
 */
#ifndef GEARHORN_TESTS_FUZZ_H
#define GEARHORN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point: runs the parsers over size bytes at data
 * (borrowed) and aborts when one of their properties does not hold.
 * Returns 0. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The files or directories of the source tree the replay reads when it is
 * given none, NULL-terminated. */
extern const char *const fuzz_replay_inputs[];

/* Checks what the input (size bytes at data, borrowed) is expected to do,
 * e.g. a protocol case's "# expect:" line, without aborting; the replay
 * calls it before LLVMFuzzerTestOneInput. Returns 0, or -1 with fail
 * filled. */
int fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen);

#endif
