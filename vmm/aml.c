/* aml.c - a small encoder of ACPI Machine Language (see aml.h). */
#include "vmm/aml.h"

#include <string.h>

enum {
	AML_ZERO = 0x00,
	AML_ONE = 0x01,
	AML_NAME_OP = 0x08,
	AML_BYTE_PREFIX = 0x0a,
	AML_WORD_PREFIX = 0x0b,
	AML_DWORD_PREFIX = 0x0c,
	AML_STRING_PREFIX = 0x0d,
	AML_QWORD_PREFIX = 0x0e,
	AML_DUAL_NAME = 0x2e,
	AML_MULTI_NAME = 0x2f,
	AML_ROOT = 0x5c,
	AML_EXT_PREFIX = 0x5b,
	AML_NOTIFY = 0x86,
	AML_RETURN = 0xa4,
};

#define AML_SEG 4
#define AML_MAX_SEGS 8

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){.buf = buf, .cap = cap};
}

bool aml_ok(const struct aml *a)
{
	return !a->failed && a->depth == 0;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->failed || n > a->cap - a->len) {
		a->failed = true;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static bool seg_ok(const char *s)
{
	for (unsigned i = 0; i < AML_SEG; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

void aml_name(struct aml *a, const char *path)
{
	const char *segs[AML_MAX_SEGS];
	unsigned n = 0;
	bool root = *path == '\\';

	for (const char *p = path + root; n < AML_MAX_SEGS; p += AML_SEG + 1) {
		if (strnlen(p, AML_SEG) < AML_SEG || !seg_ok(p)) {
			a->failed = true;
			return;
		}
		segs[n++] = p;
		if (p[AML_SEG] != '.')
			break;
	}
	if (n == AML_MAX_SEGS || path[root + n * (AML_SEG + 1) - 1] != '\0') {
		a->failed = true;
		return;
	}
	if (root)
		aml_byte(a, AML_ROOT);
	if (n == 2)
		aml_byte(a, AML_DUAL_NAME);
	else if (n > 2) {
		aml_byte(a, AML_MULTI_NAME);
		aml_byte(a, (uint8_t) n);
	}
	for (unsigned i = 0; i < n; i++)
		aml_bytes(a, segs[i], AML_SEG);
}

void aml_int(struct aml *a, uint64_t v)
{
	uint8_t le[8];
	unsigned n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
	static const uint8_t prefix[9] = {[1] = AML_BYTE_PREFIX,
					  [2] = AML_WORD_PREFIX,
					  [4] = AML_DWORD_PREFIX,
					  [8] = AML_QWORD_PREFIX};

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		le[i] = (uint8_t) (v >> (8 * i));
	aml_byte(a, prefix[n]);
	aml_bytes(a, le, n);
}

void aml_string(struct aml *a, const char *s)
{
	for (const char *p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			a->failed = true;
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

void aml_name_decl(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
}

void aml_open(struct aml *a, enum aml_pkg_op op)
{
	if (a->depth == AML_MAX_DEPTH) {
		a->failed = true;
		return;
	}
	if (op > 0xff)
		aml_byte(a, (uint8_t) (op >> 8));
	aml_byte(a, (uint8_t) op);
	a->open[a->depth++] = a->len;
}

/* PkgLength counts its own bytes and the body's: 1 byte up to 63, then a lead byte
 * (bits 7-6: how many bytes follow, bits 3-0: the low nibble) and 8 bits per byte. */
void aml_close(struct aml *a)
{
	size_t start, body, total;
	unsigned n;

	if (a->failed || a->depth == 0) {
		a->failed = true;
		return;
	}
	start = a->open[--a->depth];
	body = a->len - start;
	n = body + 1 <= 0x3f ? 1 : body + 2 <= 0xfff ? 2 : body + 3 <= 0xfffff ? 3 : 4;
	total = body + n;
	if (total > 0xfffffff || n > a->cap - a->len) {
		a->failed = true;
		return;
	}
	memmove(a->buf + start + n, a->buf + start, body);
	if (n == 1) {
		a->buf[start] = (uint8_t) total;
	} else {
		a->buf[start] = (uint8_t) ((n - 1) << 6 | (total & 0xf));
		for (unsigned i = 1; i < n; i++)
			a->buf[start + i] = (uint8_t) (total >> (4 + 8 * (i - 1)));
	}
	a->len += n;
}

void aml_buffer(struct aml *a, const void *p, size_t n)
{
	aml_open(a, AML_BUFFER);
	aml_int(a, n);
	aml_bytes(a, p, n);
	aml_close(a);
}

void aml_return(struct aml *a)
{
	aml_byte(a, AML_RETURN);
}

void aml_notify(struct aml *a, const char *path, uint8_t value)
{
	aml_byte(a, AML_NOTIFY);
	aml_name(a, path);
	aml_int(a, value);
}
