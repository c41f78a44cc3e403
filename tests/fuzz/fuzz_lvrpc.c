/* fuzz_lvrpc.c - libFuzzer target: hostile clients of the libvirt endpoint.
 *
 * The input is a client's byte stream, read in two ways chosen by its first byte:
 * raw (the bytes go through the framer in chunks the input also picks, as recv would
 * deliver them), or structured (records of procedure number, type and body, each
 * wrapped in a valid header, so the fuzzer reaches the argument decoders at once).
 * Every packet is dispatched over a fresh fake backend. Checked after each packet:
 * what the server queued is a sequence of whole packets whose length words add up,
 * every reply carries the call's serial and procedure, and nothing is answered to
 * a packet that was dropped.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "lib/log.h"
#include "tests/fuzz/fuzz_prog.h"
#include "tests/libvirt/fake_backend.h"
#include "vmm/libvirt/procs.h"
#include "vmm/libvirt/rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Procedures the structured mode picks from: every one served, and a few that are not. */
static const int fuzz_procs[] = {
    1,	 2,   3,   4,	6,   7,	  9,   10,  11,	 12,  14,  15,	16,  19,  21,  22,  23,	 24,  25,
    29,	 33,  35,  37,	51,  59,  60,  64,  65,	 66,  110, 122, 150, 151, 157, 159, 183, 187, 196,
    212, 231, 234, 243, 258, 265, 273, 288, 289, 316, 317, 344, 350, 360, 361, 426, 0,	 -1,  443};

struct fuzz_state {
	struct procs_backend b;
	struct procs_client cl;
	struct xdr_writer out;
};

/* Walk @out: whole packets only; a reply answers @call. */
static void fuzz_audit(const struct xdr_writer *out, const struct rpc_header *call)
{
	size_t off = 0;

	while (off < out->len) {
		struct rpc_header h;
		const uint8_t *body;
		size_t blen, len;

		if (out->len - off < RPC_PREFIX_SIZE)
			abort();
		len = (size_t) out->buf[off] << 24 | out->buf[off + 1] << 16 |
		      out->buf[off + 2] << 8 | out->buf[off + 3];
		if (len > out->len - off ||
		    rpc_header_decode(out->buf + off, len, &h, &body, &blen))
			abort();
		if (h.type == RPC_REPLY && (h.serial != call->serial || h.proc != call->proc))
			abort();
		off += len;
	}
}

/* Dispatch one whole packet; returns nonzero when the connection would be closed. */
static int fuzz_packet(struct fuzz_state *st, const uint8_t *pkt, size_t len)
{
	struct rpc_header call;
	const uint8_t *body;
	size_t blen;
	int ret;

	xdr_writer_reset(&st->out);
	ret = procs_handle(&st->b, &st->cl, pkt, len, &st->out);
	if (ret < 0) {
		if (st->out.len) /* dropped: nothing may have been queued */
			abort();
		return ret;
	}
	if (rpc_header_decode(pkt, len, &call, &body, &blen))
		abort(); /* procs_handle accepted what the header decoder refuses */
	fuzz_audit(&st->out, &call);
	return 0;
}

static void fuzz_raw(struct fuzz_state *st, struct prog *pr)
{
	struct rpc_framer f;

	rpc_framer_init(&f);
	while (pr->left) {
		size_t chunk = 1 + (size_t) prog_take(pr, 1) % 64, want;
		uint8_t *dst;
		int ret;

		rpc_framer_want(&f, &dst, &want);
		chunk = MIN(MIN(chunk, want), pr->left);
		memcpy(dst, pr->p, chunk);
		pr->p += chunk;
		pr->left -= chunk;
		ret = rpc_framer_got(&f, chunk);
		if (ret < 0)
			break;
		if (ret == 1) {
			size_t len;
			const uint8_t *pkt = rpc_framer_packet(&f, &len);

			if (fuzz_packet(st, pkt, len))
				break;
			rpc_framer_next(&f);
		}
	}
	rpc_framer_free(&f);
}

static void fuzz_structured(struct fuzz_state *st, struct prog *pr)
{
	struct xdr_writer pkt;

	xdr_writer_init(&pkt, RPC_PACKET_MAX);
	while (pr->left) {
		uint8_t sel = (uint8_t) prog_take(pr, 1);
		struct rpc_header h = {RPC_PROG_REMOTE,
				       RPC_VERSION,
				       fuzz_procs[sel % G_N_ELEMENTS(fuzz_procs)],
				       RPC_CALL,
				       (uint32_t) prog_take(pr, 1),
				       RPC_OK};
		size_t n = (size_t) prog_take(pr, 2) % 512, start;

		if (sel >= 0xf8) { /* now and then a keepalive or an odd type */
			h.prog = sel & 1 ? RPC_PROG_KEEPALIVE : h.prog;
			h.type = sel & 2 ? RPC_MESSAGE : RPC_CALL;
			h.proc = sel & 4 ? RPC_KEEPALIVE_PING : h.proc;
		}
		n = MIN(n, pr->left);
		xdr_writer_reset(&pkt);
		start = rpc_packet_begin(&pkt, &h);
		xdr_put_opaque_fixed(&pkt, pr->p, n & ~(size_t) 3);
		pr->p += n;
		pr->left -= n;
		if (rpc_packet_end(&pkt, start) || fuzz_packet(st, pkt.buf, pkt.len))
			break;
	}
	xdr_writer_free(&pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pr = {data, size};
	struct fuzz_state st;
	uint8_t mode = (uint8_t) prog_take(&pr, 1);

	log_level = -1; /* keep the fuzzer's output readable */
	st.b.ops = &fake_be_ops;
	st.b.be = fake_be_new();
	procs_client_init(&st.cl);
	st.cl.opened = mode & 2; /* half the inputs skip CONNECT_OPEN */
	xdr_writer_init(&st.out, RPC_PACKET_MAX + 4096);
	if (mode & 1)
		fuzz_structured(&st, &pr);
	else
		fuzz_raw(&st, &pr);
	xdr_writer_free(&st.out);
	procs_client_clear(&st.cl);
	fake_be_free(st.b.be);
	return 0;
}
