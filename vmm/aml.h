/* aml.h - a small encoder of ACPI Machine Language: the few terms our DSDT is made of.
 *
 * Terms are appended to a fixed buffer, nested ones (Scope, Device, Method, Package,
 * Buffer) between an aml_open and its aml_close, which writes the PkgLength in front of
 * the body once its size is known. Any overflow or misuse sets the buffer's error flag
 * and later calls do nothing: check aml_ok once at the end. Encodings follow the ACPI
 * specification, section 20 (AML grammar). */
#ifndef VMM_AML_H
#define VMM_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

/* Opcodes of the terms that open a package (the extended ones carry the 0x5b prefix). */
enum aml_pkg_op {
	AML_SCOPE = 0x10,
	AML_BUFFER = 0x11,
	AML_PACKAGE = 0x12,
	AML_METHOD = 0x14,
	AML_DEVICE = 0x5b82,
};

struct aml {
	uint8_t *buf;
	size_t cap, len;
	size_t open[AML_MAX_DEPTH]; /* where each open package's body starts */
	unsigned depth;
	bool failed;
};

/* Start encoding into @buf of @cap bytes. */
void aml_init(struct aml *a, uint8_t *buf, size_t cap);

/* True if every call since aml_init fit and every package was closed. */
bool aml_ok(const struct aml *a);

/* Raw bytes (a resource template's body, a method's flags byte, ...). */
void aml_bytes(struct aml *a, const void *p, size_t n);

/* A name path: "\\_SB_", "VGEN" or "\\_SB_.VGEN". Each segment is exactly 4 characters
 * of [A-Z0-9_], the first not a digit; anything else fails the buffer. */
void aml_name(struct aml *a, const char *path);

/* An integer: Zero, One, or the smallest of ByteConst .. QWordConst that holds it. */
void aml_int(struct aml *a, uint64_t v);

/* A string constant (printable ASCII, no NUL). */
void aml_string(struct aml *a, const char *s);

/* Name(@name, <the term that follows>): writes NameOp and the name. */
void aml_name_decl(struct aml *a, const char *name);

/* Open a package term of opcode @op; a Scope, Device or Method is followed by its name
 * (and a Method by its flags byte), a Package by its element count, a Buffer by its size
 * (aml_int). */
void aml_open(struct aml *a, enum aml_pkg_op op);

/* Close the innermost open package. */
void aml_close(struct aml *a);

/* Buffer(@n) { the @n bytes at @p }, e.g. a ResourceTemplate. */
void aml_buffer(struct aml *a, const void *p, size_t n);

/* Return(<the term that follows>). */
void aml_return(struct aml *a);

/* Notify(@path, @value). */
void aml_notify(struct aml *a, const char *path, uint8_t value);

#endif
