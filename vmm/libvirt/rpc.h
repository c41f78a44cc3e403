/* rpc.h - libvirt's RPC packets: header, framing on a stream, and error replies.
 *
 * A packet is a 4-byte big-endian length (counting itself), a 24-byte header (program,
 * version, procedure, type, serial, status) and an XDR body. The framer takes bytes off
 * a stream and yields whole packets, never holding more than one and refusing a length
 * outside [header, RPC_PACKET_MAX] before any body byte is read.
 */
#ifndef VMM_LIBVIRT_RPC_H
#define VMM_LIBVIRT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/libvirt/xdr.h"

#define RPC_PROG_REMOTE 0x20008086u
#define RPC_PROG_KEEPALIVE 0x6b656570u
#define RPC_VERSION 1u

#define RPC_KEEPALIVE_PING 1
#define RPC_KEEPALIVE_PONG 2

enum rpc_type {
	RPC_CALL = 0,
	RPC_REPLY = 1,
	RPC_MESSAGE = 2,
	RPC_STREAM = 3,
};

enum rpc_status {
	RPC_OK = 0,
	RPC_ERROR = 1,
	RPC_CONTINUE = 2,
};

#define RPC_LEN_SIZE 4
#define RPC_HEADER_SIZE 24
#define RPC_PREFIX_SIZE (RPC_LEN_SIZE + RPC_HEADER_SIZE)
/* libvirt's limit for one payload (4 MiB) plus what frames it. */
#define RPC_PAYLOAD_MAX (4u << 20)
#define RPC_PACKET_MAX (RPC_PREFIX_SIZE + RPC_PAYLOAD_MAX)
/* REMOTE_STRING_MAX of libvirt 9.0: the longest string either side may send. */
#define RPC_STRING_MAX (4u << 20)

/* libvirt's virErrorDomain values used in errors we send. */
#define RPC_FROM_DOM 6
#define RPC_FROM_RPC 7
#define RPC_FROM_REMOTE 13
/* virErrorNumber VIR_ERR_RPC: malformed calls. */
#define RPC_ERR_RPC 39

struct rpc_header {
	uint32_t prog;
	uint32_t vers;
	int32_t proc;
	uint32_t type;	 /* enum rpc_type */
	uint32_t serial; /* a reply carries its call's */
	uint32_t status; /* enum rpc_status */
};

/* Reassembles packets from a byte stream, one at a time. */
struct rpc_framer {
	uint8_t *buf; /* g_malloc'd, grown up to the packet's length */
	size_t cap;
	size_t have; /* bytes of the current packet received */
	size_t need; /* its length once the length word is in, else RPC_LEN_SIZE */
};

void rpc_framer_init(struct rpc_framer *f);
void rpc_framer_free(struct rpc_framer *f);
/* Where the next bytes go: at most *@n of them into *@p (never past the current packet,
 * so a stream is never read ahead). The buffer doubles only as it fills, so a client
 * that announces 4 MiB and sends nothing more costs a few bytes, not 4 MiB. */
void rpc_framer_want(struct rpc_framer *f, uint8_t **p, size_t *n);
/* @n bytes were stored at the place rpc_framer_want gave. Returns 1 when a whole packet
 * is there (rpc_framer_packet), 0 when more is needed, -EMSGSIZE for a length word out of
 * range (the stream cannot be resynchronised: close it). */
int rpc_framer_got(struct rpc_framer *f, size_t n);
/* The complete packet (valid until rpc_framer_next). */
const uint8_t *rpc_framer_packet(const struct rpc_framer *f, size_t *len);
/* Drop the complete packet and start on the next one. */
void rpc_framer_next(struct rpc_framer *f);

/* Decode the header of a whole packet (@len bytes, length word included); *@body and
 * *@body_len give the XDR body. -EBADMSG when the length word disagrees with @len. */
int rpc_header_decode(const uint8_t *pkt, size_t len, struct rpc_header *h, const uint8_t **body,
		      size_t *body_len);

/* Start a packet with header @h at the end of @w; returns the offset to give
 * rpc_packet_end once the body is written. */
size_t rpc_packet_begin(struct xdr_writer *w, const struct rpc_header *h);
/* Fill in the length word of the packet begun at @start. 0 or the writer's error. */
int rpc_packet_end(struct xdr_writer *w, size_t start);

/* Append a whole error reply to @call (remote_error with @code, @domain, @msg; no
 * domain or network) to @w. */
int rpc_put_error(struct xdr_writer *w, const struct rpc_header *call, int code, int domain,
		  const char *msg);

#endif
