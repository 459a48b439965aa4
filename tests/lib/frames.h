/*
 * frames.h: the protocol cases of tests/data/{valid,invalid}, read and
 * checked against the codec. Shared by tests/check_proto.c and the fuzz
 * target tests/fuzz/fuzz_proto.c with its replay.
 *
 * A case is text: one frame per line (an empty line is an empty frame),
 * C escapes \\ \n \r \t \0 \xHH, '#' starts a comment line, and the line
 * "# expect: WORD" names the command it decodes as, or the error token
 * decoding it fails with.
 */
#ifndef GEARHORN_TESTS_FRAMES_H
#define GEARHORN_TESTS_FRAMES_H

#include <stddef.h>

#include "proto.h"
#include "util.h"

#define FRAMES_MAX 64

typedef struct {
	char *bytes; /* every frame's bytes back to back; f[] point in here */
	gh_frame_t f[FRAMES_MAX];
	size_t n;
	char expect[64]; /* the "# expect:" word; "" when there is none */
} frames_t;

/* Reads a case from the len bytes at text (borrowed, need not be
 * NUL-terminated) into *fc. Returns 0, or -1 with why filled when the text
 * is not a case (a bad escape, a second "# expect:" line, more than
 * FRAMES_MAX frames). Either way the caller frees fc with frames_free. */
int frames_parse(const char *text, size_t len, frames_t *fc, char *why, size_t whylen);

/* frames_parse on the file at path (borrowed); -1 also when it cannot be
 * read. Either way the caller frees fc with frames_free. */
int frames_load(const char *path, frames_t *fc, char *why, size_t whylen);

/* Frees what fc holds (not fc itself). */
void frames_free(frames_t *fc);

/* 1 if a and b hold the same bytes (both unset counts as the same). */
int frames_eq(gh_frame_t a, gh_frame_t b);

/* Writes f into buf (buflen bytes, at least 8) for a message: printable
 * ASCII with other bytes as \xHH, truncated. Returns buf, or "(unset)" when
 * f has no data. */
const char *frames_show(gh_frame_t f, char *buf, size_t buflen);

/* The codec's contract on one message (f borrowed): frames that decode
 * encode back to the same frames (for HELLO, to those of the arguments it
 * keeps) and those decode to the same message; frames that do not decode
 * get an error code and a printable text. Returns 0, or -1 with fail
 * filled. */
int frames_check_codec(const gh_frame_t *f, size_t n, char *fail, size_t faillen);

/* Checks a case against its "# expect:" word (a command: it decodes as that
 * command; an error token: decoding fails with that error) and against
 * frames_check_codec. Returns 0, or -1 with fail filled (also when there is
 * no "# expect:" line or its word is neither). */
int frames_check_case(const frames_t *fc, char *fail, size_t faillen);

#endif
