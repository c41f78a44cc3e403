/* reportdata.c - fetch "report" and "history" replies from the VMM into ksmctl's model
 * (the model and its parser: vmm/control/reportdata.c). */
#include "tools/ksmctl/reportdata.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <glib.h>

#include "tools/ksmctl/client.h"
#include "vmm/control/protocol.h"

#define RD_TIMEOUT_MS 30000

char *rd_call(const char *path, int cmd, const char *name, int timeout_ms, int *status)
{
	struct proto_request req = {.cmd = (enum proto_cmd) cmd};
	char err[PROTO_TEXT_MAX], *line, *reply;
	int fd;

	g_strlcpy(req.name, name, sizeof(req.name));
	line = proto_build_request(&req);
	*status = KSMCTL_USAGE;
	if (!line) {
		fprintf(stderr, "ksmctl: cannot build the request\n");
		return NULL;
	}
	fd = client_connect(path);
	if (fd < 0) {
		fprintf(stderr,
			"ksmctl: cannot connect to %s: %s (is ksmvmm running with "
			"--control %s?)\n",
			path, g_strerror(-fd), path);
		g_free(line);
		return NULL;
	}
	reply = client_call(fd, line, timeout_ms, err, sizeof(err));
	close(fd);
	g_free(line);
	if (!reply)
		fprintf(stderr, "ksmctl: %s: %s\n", path, err);
	else
		*status = KSMCTL_OK;
	return reply;
}

/* Fetch @cmd (about guest @name, or "") and parse it with @parse into @out. */
static int rd_fetch_one(const char *path, int cmd, const char *name, void *out,
			int (*parse)(const char *line, void *out, char *err, size_t errlen))
{
	char err[PROTO_TEXT_MAX];
	int status, ret;
	char *line = rd_call(path, cmd, name, RD_TIMEOUT_MS, &status);

	if (!line)
		return status;
	ret = parse(line, out, err, sizeof(err));
	g_free(line);
	if (ret)
		fprintf(stderr, "ksmctl: %s%s\n", ret == -EPROTO ? "" : "bad reply: ", err);
	return ret == 0 ? KSMCTL_OK : ret == -EPROTO ? KSMCTL_FAILED : KSMCTL_USAGE;
}

static int rd_parse_report(const char *line, void *out, char *err, size_t errlen)
{
	return rd_report_parse(line, out, err, errlen);
}

static int rd_parse_history(const char *line, void *out, char *err, size_t errlen)
{
	return rd_history_parse(line, out, err, errlen);
}

int rd_fetch(const char *path, struct rd_report *r, struct rd_history *h)
{
	int ret = rd_fetch_one(path, PROTO_CMD_REPORT, "", r, rd_parse_report);

	if (ret || !h)
		return ret;
	ret = rd_fetch_one(path, PROTO_CMD_HISTORY, "", h, rd_parse_history);
	if (ret)
		rd_report_free(r);
	return ret;
}

int rd_fetch_history(const char *path, const char *name, struct rd_history *h)
{
	return rd_fetch_one(path, PROTO_CMD_HISTORY, name, h, rd_parse_history);
}

int rd_parse_failed(int ret, const char *err, char *line)
{
	fprintf(stderr, "ksmctl: %s%s\n", ret == -EPROTO ? "" : "bad reply: ", err);
	g_free(line);
	return ret == -EPROTO ? KSMCTL_FAILED : KSMCTL_USAGE;
}
