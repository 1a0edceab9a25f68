/*
 * audit internals shared by the files of src/audit only: the sinks (file, stdout, syslog over TCP
 * and UDP) and their batches, and the small UTF-8 helpers of the encoders. Nobody else includes it.
 */
#ifndef MW_AUDIT_INT_H
#define MW_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/audit.h"

/* ---- sinks ------------------------------------------------------------------------------------
 */

enum sink_type { SINK_FILE = 0, SINK_STDOUT = 1, SINK_TCP = 2, SINK_UDP = 3 };

#define SINKS_MAX 16       /* in MODELWRAP_AUDIT_LOG and MODELWRAP_AUDIT_SECURITY_LOG together */
#define SINK_BATCH_MAX 256 /* records per batch */

struct sink {
    enum sink_type type;
    bool events_only; /* a MODELWRAP_AUDIT_SECURITY_LOG sink: request records are skipped */
    char *spec;       /* as configured, for logs */
    char *target;     /* path, or host of a syslog collector */
    char port[8];
    int fd; /* -1 when closed */

    /* Progress through the ring (absolute record indices): done <= sent <= b_start + b_n. */
    uint64_t sent; /* first record whose bytes were not all written (a batch starts here) */
    uint64_t done; /* first record not yet delivered (TCP: acknowledged by the collector) */

    /* The batch being written: the frames of records b_start .. b_start + b_n - 1 (records the
     * sink skips take no bytes). b_cum[i] is the batch offset where record b_start + i ends. */
    struct buf batch;
    uint64_t b_start;
    size_t b_n;
    size_t b_off; /* bytes of the batch already written */
    size_t b_cum[SINK_BATCH_MAX];

    /* TCP: ends[idx % cap] is the connection byte offset at the end of record idx, so that the
     * bytes the peer acknowledged (SIOCOUTQ) tell which records were delivered. */
    uint64_t *ends;
    uint64_t conn_bytes;
    bool connecting; /* non-blocking connect in progress */
    uint64_t connect_ns; /* when it began (a connect that hangs is a failure after a while) */

    /* failures: retried with exponential backoff */
    bool failing;
    uint64_t retry_ns;
    unsigned backoff_ms;
    int last_errno;
    uint64_t failures;

    /* files */
    bool dirty; /* written since the last fdatasync */
    uint64_t synced_ns;
    bool reopen;       /* reopen when the current batch is written (rotation) */
    uint64_t file_off; /* where the next byte lands (the file's size as far as we know) */
};

/* Parses a comma-separated sink list ("stdout", "syslog+tcp://host:port", "syslog+udp://host:port"
 * with host a name, an IPv4 or [IPv6] address, anything else a file path) and appends its sinks to
 * sinks[*n] (at most max in total), each closed. setting names the setting in errors. Returns 0
 * or MWE_CONFIG with e; the sinks appended so far stay in the array (free with sink_free). */
int sink_parse_list(const char *list, bool events_only, const char *setting, struct sink **sinks,
                    size_t *n, size_t max, struct mw_error *e);
/* Frees a sink (closing it). NULL is fine. */
void sink_free(struct sink *s);
/* Opens s: files are created (0640) and opened O_APPEND; a partial last line left by a crash is
 * cut off. Syslog sinks resolve their host and connect (non-blocking); a collector that cannot be
 * reached only marks the sink failing. 0, or MWE_IO with e (a file that cannot be opened, a host
 * that does not resolve). cap: the ring's capacity (TCP acknowledgement tracking). */
int sink_open(struct sink *s, size_t cap, struct mw_error *e);
/* Closes the descriptor (not stdout's). */
void sink_close(struct sink *s);
/* Reopens a file sink at its path (rotation): the new file is opened before the old one is
 * closed; on failure the old one is kept. 0 or an errno value. */
int sink_reopen(struct sink *s);
/* Writes as much of the current batch as the descriptor takes without waiting long. Returns 1 when
 * all of it is written, 0 when some remains (try again soon), or -errno on a failure (the sink is
 * then to be retried later; a TCP connection is closed: it must be re-sent from `done`). */
int sink_write(struct sink *s);
/* After sink_write: moves s->sent past the records whose bytes are all written and, for TCP,
 * remembers where each ended on the connection (for sink_update_acks). */
void sink_progress(struct sink *s, size_t cap);
/* TCP: advances s->done over the records the collector acknowledged. Others: done = sent. */
void sink_update_acks(struct sink *s, size_t cap);
/* TCP: true once a non-blocking connect finished (s->connecting cleared); -errno when it failed. */
int sink_poll_connect(struct sink *s);
/* TCP: (re)connects after a failure. 0 (connected or in progress) or -errno. */
int sink_connect(struct sink *s);
/* fdatasync for file sinks (a no-op otherwise). 0 or -errno. */
int sink_sync(struct sink *s);

#endif /* MW_AUDIT_INT_H */
