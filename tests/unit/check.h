/* check.h - minimal assertions for standalone unit tests: count, report, exit status. */
#ifndef TESTS_UNIT_CHECK_H
#define TESTS_UNIT_CHECK_H

#include <stdio.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		check_count++;                                                                     \
		if (!(cond)) {                                                                     \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		unsigned long long a_ = (unsigned long long) (a), b_ = (unsigned long long) (b);   \
		check_count++;                                                                     \
		if (a_ != b_) {                                                                    \
			check_failures++;                                                          \
			fprintf(                                                                   \
			    stderr,                                                                \
			    "%s:%d: CHECK_EQ failed: %s = %llu (0x%llx), %s = %llu (0x%llx)\n",    \
			    __FILE__, __LINE__, #a, a_, a_, #b, b_, b_);                           \
		}                                                                                  \
	} while (0)

/* Print the summary and return main()'s exit status. */
static inline int check_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
