/* The consumer side of kcat-in: librdkafka's events in, records and stored
 * offsets out. See main.c for the loop that drives it, and docs/kafka.md
 * for how offsets move from an outcome line to a commit. */
#include "consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonarena.h"
#include "kafka_src.h"
#include "kcat_acks.h"
#include "log.h"

/* ---- partitions we have seen, for the statistics ---------------------- */

static struct kin_seen *seen(struct kin *k, const char *topic, int32_t partition)
{
	for (size_t i = 0; i < k->nseen; i++)
		if (k->seen[i].partition == partition && strcmp(k->seen[i].topic, topic) == 0)
			return &k->seen[i];
	struct kin_seen *n = realloc(k->seen, (k->nseen + 1) * sizeof(*n));
	if (!n)
		return NULL;
	k->seen = n;
	n = &k->seen[k->nseen];
	n->topic = strdup(topic);
	if (!n->topic)
		return NULL;
	n->partition = partition;
	n->stored = n->committed = -1;
	k->nseen++;
	return n;
}

void kin_free_seen(struct kin *k)
{
	for (size_t i = 0; i < k->nseen; i++)
		free(k->seen[i].topic);
	free(k->seen);
	k->seen = NULL;
	k->nseen = 0;
}

/* "stream_producer[0,1,3]" (topics in the order given), for log lines. */
static void describe(const rd_kafka_topic_partition_list_t *parts, char *buf, size_t size)
{
	size_t n = 0;
	const char *last = NULL;

	buf[0] = '\0';
	for (int i = 0; i < parts->cnt && n + 32 < size; i++) {
		const rd_kafka_topic_partition_t *p = &parts->elems[i];
		int w;
		if (!last || strcmp(last, p->topic) != 0)
			w = snprintf(buf + n, size - n, "%s%s[%d", last ? "] " : "", p->topic,
			             (int)p->partition);
		else
			w = snprintf(buf + n, size - n, ",%d", (int)p->partition);
		if (w < 0)
			break;
		n += (size_t)w;
		last = p->topic;
	}
	if (last && n + 2 < size)
		strcpy(buf + n, "]");
	else if (!last)
		snprintf(buf, size, "nothing");
}

/* ---- rebalances ------------------------------------------------------- */

void kin_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kin *k = opaque;
	bool cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t aerr = RD_KAFKA_RESP_ERR_NO_ERROR;
	char names[512];

	k->n.rebalances++;
	describe(parts, names, sizeof(names));
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			const rd_kafka_topic_partition_t *p = &parts->elems[i];
			if (offtrack_assign(k->track, p->topic, p->partition) < 0 ||
			    !seen(k, p->topic, p->partition))
				log_warnx("out of memory tracking %s [%d]", p->topic, (int)p->partition);
		}
		if (cooperative)
			error = rd_kafka_incremental_assign(rk, parts);
		else
			aerr = rd_kafka_assign(rk, parts);
		/* A partition that arrives while we hold back (stdout backed up,
		 * or stopping) must not start fetching behind our back; one that
		 * arrives otherwise starts afresh (not stuck: nothing is
		 * outstanding), whatever librdkafka remembers of an earlier pause. */
		if (k->paused || !k->fetching)
			rd_kafka_pause_partitions(rk, parts);
		else
			rd_kafka_resume_partitions(rk, parts);
		log_info("assigned %s", names);
	} else {
		/* Store what has come back before the partitions go, so that the
		 * commit librdkafka makes on revoke carries it; outcomes that come
		 * back later are for records the new owner delivers again. */
		size_t dropped = 0;
		/* asked before unassigning, which clears it */
		bool lost = err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS && rd_kafka_assignment_lost(rk);
		if (k->acks && !k->acks_eof && kin_read_acks(k) < 0)
			log_warn("acks: read error");
		kin_store(k);
		if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
			for (int i = 0; i < parts->cnt; i++)
				dropped += offtrack_revoke(k->track, parts->elems[i].topic,
				                           parts->elems[i].partition);
		} else {
			dropped = offtrack_outstanding(k->track);
			offtrack_revoke_all(k->track);
		}
		if (cooperative)
			error = rd_kafka_incremental_unassign(rk, parts);
		else
			aerr = rd_kafka_assign(rk, NULL);
		if (lost)
			log_warnx("assignment lost: %s", names);
		else if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			log_warnx("rebalance failed (%s): dropping %s", rd_kafka_err2str(err), names);
		if (k->with_acks && dropped)
			log_info("revoked %s; %zu records in flight will be delivered again to the new owner",
			         names, dropped);
		else
			log_info("revoked %s", names);
	}
	if (error) {
		log_warnx("rebalance: %s", rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	} else if (aerr) {
		log_warnx("rebalance: %s", rd_kafka_err2str(aerr));
	}
}

/* ---- commits, errors, librdkafka's log -------------------------------- */

void kin_on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct kin *k = opaque;
	(void)rk;

	/* "no offset to commit" is the auto-commit timer finding nothing new */
	if (err == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return;
	if (err) {
		/* Commits fail while the group rebalances; the records are
		 * delivered again, which the stages downstream absorb. */
		k->n.commit_failures++;
		log_warnx("commit failed: %s", rd_kafka_err2str(err));
	}
	for (int i = 0; offsets && i < offsets->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &offsets->elems[i];
		struct kin_seen *s;
		if (p->err || p->offset < 0)
			continue;
		s = seen(k, p->topic, p->partition);
		if (s)
			s->committed = p->offset;
	}
}

void kin_on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kin *k = opaque;
	char fatal[256];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		log_warnx("fatal: %s", fatal);
		k->fatal = 69; /* EX_UNAVAILABLE: the cluster will not have us */
		return;
	}
	log_warnx("kafka: %s", reason);
}

void kin_on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	if (level <= 4)
		log_warnx("rdkafka %s: %s", fac, buf);
	else
		log_debug("rdkafka %s: %s", fac, buf);
}

/* ---- messages to records ---------------------------------------------- */

static void consumer_event(struct kin *k, rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";

	switch (m->err) {
	case RD_KAFKA_RESP_ERR__PARTITION_EOF:
		offtrack_set_eof(k->track, topic, m->partition, true);
		log_debug("%s [%d] at its end, offset %lld", topic, (int)m->partition,
		          (long long)m->offset);
		break;
	default:
		log_warnx("consumer: %s%s%s", m->rkt ? topic : "", m->rkt ? ": " : "",
		          rd_kafka_message_errstr(m));
		if (m->err == RD_KAFKA_RESP_ERR__FATAL)
			k->fatal = 69;
	}
}

static int write_record(struct kin *k, rd_kafka_message_t *m)
{
	struct kafka_src src;
	enum kafka_src_shape shape;
	const char *topic = rd_kafka_topic_name(m->rkt);
	enum offtrack_result r;

	size_t tlen = strlen(topic); /* librdkafka refuses names over Kafka's limit */
	if (tlen >= sizeof(src.topic))
		tlen = sizeof(src.topic) - 1;
	memcpy(src.topic, topic, tlen);
	src.topic[tlen] = '\0';
	src.partition = m->partition;
	src.offset = m->offset;
	jsonarena_begin(); /* the payload's tree lives for this call only */
	int rc = kafka_src_write(outbuf_file(k->out), m->payload, m->len, &src, k->max_line, &shape);
	jsonarena_end();
	if (rc < 0)
		return -1;
	k->n.records++;
	if (shape == KAFKA_SRC_COMPACTED)
		k->n.compacted++;
	else if (shape == KAFKA_SRC_WRAPPED)
		k->n.wrapped++;
	else if (shape == KAFKA_SRC_TRUNCATED)
		k->n.truncated++;
	else if (shape == KAFKA_SRC_RESERVED)
		k->n.reserved++;

	/* Without acks a record is done once its bytes reach the kernel: the
	 * mark is where it ends in the output, which needs the stream moved
	 * into the queue now. With acks the mark is the time it was written,
	 * for --stuck-after. */
	uint64_t mark = (uint64_t)k->now_ms;
	if (!k->with_acks) {
		if (outbuf_commit(k->out) < 0)
			return -1;
		mark = outbuf_queued(k->out);
	}
	r = offtrack_written(k->track, topic, m->partition, m->offset, mark);
	if (r == OFFTRACK_NOMEM) {
		errno = ENOMEM;
		return -1;
	}
	if (r == OFFTRACK_REWOUND)
		log_warnx("%s [%d] went back to offset %lld: records after it will be delivered again",
		          topic, (int)m->partition, (long long)m->offset);
	/* OFFTRACK_UNASSIGNED cannot happen: librdkafka only hands out
	 * messages of assigned partitions, and we track every assignment. */
	return 0;
}

int kin_consume(struct kin *k, int max)
{
	k->now_ms = cli_now_ms(); /* one clock reading per batch is precise enough */
	for (int i = 0; i < max; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
		int rc = 0;

		if (!m)
			return 0;
		if (m->err) {
			consumer_event(k, m);
		} else {
			k->n.messages++;
			/* After a stop, a message is dropped unwritten: its offset is
			 * never stored, so the group delivers it again next time. */
			if (k->fetching)
				rc = write_record(k, m);
			else
				k->n.discarded++;
		}
		rd_kafka_message_destroy(m);
		if (rc < 0)
			return -1;
	}
	return 1;
}

/* ---- outcome lines to stored offsets ---------------------------------- */

int kin_read_acks(struct kin *k)
{
	struct record_line line;
	struct kafka_src src;
	char reason[256];

	for (;;) {
		int rc = record_reader_next(k->acks, &line);
		if (rc == 0) {
			k->acks_eof = true;
			return 0;
		}
		if (rc < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		jsonarena_begin();
		enum kcat_ack r = kcat_ack_line(k->track, &line, &src, reason, sizeof(reason));
		jsonarena_end();
		switch (r) {
		case KCAT_ACK_DONE:
			k->n.acks++;
			break;
		case KCAT_ACK_BAD:
			k->n.acks_bad++;
			log_warnx("acks: line %lu ignored: %s", line.lineno, reason);
			break;
		case KCAT_ACK_STALE:
			k->n.acks_stale++;
			log_debug("acks: %s [%d] offset %lld is not outstanding here", src.topic,
			          (int)src.partition, (long long)src.offset);
			break;
		case KCAT_ACK_BLANK:
			break;
		}
	}
}

void kin_store(struct kin *k)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	struct offtrack_part p;

	if (!k->with_acks)
		offtrack_settle_upto(k->track, outbuf_written(k->out));
	for (size_t i = 0; i < offtrack_count(k->track); i++) {
		offtrack_get(k->track, i, &p);
		if (!p.dirty)
			continue;
		if (!list)
			list = rd_kafka_topic_partition_list_new((int)offtrack_count(k->track));
		rd_kafka_topic_partition_list_add(list, p.topic, p.partition)->offset = p.store;
		offtrack_clean(k->track, i);
	}
	if (!list)
		return;
	rd_kafka_resp_err_t err = rd_kafka_offsets_store(k->rk, list);
	for (int i = 0; i < list->cnt; i++) {
		const rd_kafka_topic_partition_t *e = &list->elems[i];
		struct kin_seen *s;
		if (e->err) {
			log_warnx("storing offset %lld of %s [%d]: %s", (long long)e->offset, e->topic,
			          (int)e->partition, rd_kafka_err2str(e->err));
			continue;
		}
		if ((s = seen(k, e->topic, e->partition)))
			s->stored = e->offset;
	}
	if (err && err != RD_KAFKA_RESP_ERR__INVALID_ARG)
		log_warnx("storing offsets: %s", rd_kafka_err2str(err));
	rd_kafka_topic_partition_list_destroy(list);
}

int kin_commit_sync(struct kin *k)
{
	rd_kafka_topic_partition_list_t *list;
	struct offtrack_part p;
	int failed = 0;

	kin_store(k);
	list = rd_kafka_topic_partition_list_new((int)offtrack_count(k->track) + 1);
	for (size_t i = 0; i < offtrack_count(k->track); i++) {
		offtrack_get(k->track, i, &p);
		if (p.store >= 0)
			rd_kafka_topic_partition_list_add(list, p.topic, p.partition)->offset = p.store;
	}
	if (list->cnt > 0) {
		rd_kafka_resp_err_t err = rd_kafka_commit(k->rk, list, 0);
		for (int i = 0; i < list->cnt; i++) {
			const rd_kafka_topic_partition_t *e = &list->elems[i];
			struct kin_seen *s;
			if (err || e->err) {
				failed++;
				log_warnx("final commit of %s [%d] at %lld failed: %s", e->topic,
				          (int)e->partition, (long long)e->offset,
				          rd_kafka_err2str(e->err ? e->err : err));
			} else if ((s = seen(k, e->topic, e->partition))) {
				s->committed = e->offset;
			}
		}
	}
	rd_kafka_topic_partition_list_destroy(list);
	return failed;
}

/* The assigned partitions kin_check_stuck has paused, removed from parts. */
static void drop_stuck(const struct kin *k, rd_kafka_topic_partition_list_t *parts)
{
	struct offtrack_part p;

	for (size_t i = 0; i < offtrack_count(k->track); i++) {
		offtrack_get(k->track, i, &p);
		if (p.paused_at >= 0)
			rd_kafka_topic_partition_list_del(parts, p.topic, p.partition);
	}
}

void kin_pause(struct kin *k, bool pause)
{
	rd_kafka_topic_partition_list_t *parts = NULL;

	if (rd_kafka_assignment(k->rk, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts->cnt > 0) {
		if (pause) {
			rd_kafka_pause_partitions(k->rk, parts);
		} else {
			drop_stuck(k, parts);
			rd_kafka_resume_partitions(k->rk, parts);
		}
	}
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	k->paused = pause;
}

/* Pauses or resumes fetching from one partition. */
static void pause_one(struct kin *k, const char *topic, int32_t partition, bool pause)
{
	rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);

	rd_kafka_topic_partition_list_add(one, topic, partition);
	if (pause)
		rd_kafka_pause_partitions(k->rk, one);
	else
		rd_kafka_resume_partitions(k->rk, one);
	rd_kafka_topic_partition_list_destroy(one);
}

void kin_check_stuck(struct kin *k, long long now_ms)
{
	struct offtrack_part p;

	if (!k->with_acks || k->stuck_ms <= 0)
		return;
	for (size_t i = 0; i < offtrack_count(k->track); i++) {
		offtrack_get(k->track, i, &p);
		if (p.paused_at >= 0 && p.oldest != p.paused_at) {
			/* the record it waited for is settled: move on (unless the
			 * whole consumer holds back for now; kin_pause resumes it) */
			offtrack_set_paused_at(k->track, i, -1);
			if (k->fetching && !k->paused)
				pause_one(k, p.topic, p.partition, false);
			log_info("%s [%d]: offset %lld has its outcome; fetching again", p.topic,
			         (int)p.partition, (long long)p.paused_at);
		} else if (p.paused_at < 0 && p.oldest >= 0 &&
		           now_ms - (long long)p.oldest_mark >= k->stuck_ms) {
			offtrack_set_paused_at(k->track, i, p.oldest);
			pause_one(k, p.topic, p.partition, true);
			k->n.stuck++;
			log_warnx("%s [%d] stuck: offset %lld has had no outcome for %lld s "
			          "(--stuck-after); fetching from it is paused until it comes back, "
			          "%zu records outstanding",
			          p.topic, (int)p.partition, (long long)p.oldest,
			          (now_ms - (long long)p.oldest_mark) / 1000, p.outstanding);
		}
	}
}

size_t kin_stuck_now(const struct kin *k)
{
	struct offtrack_part p;
	size_t n = 0;

	for (size_t i = 0; i < offtrack_count(k->track); i++) {
		offtrack_get(k->track, i, &p);
		n += p.paused_at >= 0;
	}
	return n;
}

/* ---- statistics --------------------------------------------------------- */

void kin_stats(const struct kin *k, const char *kind)
{
	char *buf = NULL, topic[KAFKA_SRC_TOPIC_MAX * 6 + 1];
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return;
	fprintf(f,
	        "{\"prog\":\"kcat-in\",\"stats\":\"%s\",\"messages\":%llu,\"records\":%llu,"
	        "\"discarded\":%llu,\"compacted\":%llu,\"wrapped\":%llu,\"truncated\":%llu,"
	        "\"reserved\":%llu,\"acks\":%llu,\"acks_bad\":%llu,\"acks_stale\":%llu,"
	        "\"outstanding\":%zu,\"stuck\":%llu,\"stuck_now\":%zu,\"rebalances\":%llu,"
	        "\"commit_failures\":%llu,\"partitions\":[",
	        kind, k->n.messages, k->n.records, k->n.discarded, k->n.compacted, k->n.wrapped,
	        k->n.truncated, k->n.reserved, k->n.acks, k->n.acks_bad, k->n.acks_stale,
	        offtrack_outstanding(k->track), k->n.stuck, kin_stuck_now(k), k->n.rebalances,
	        k->n.commit_failures);
	for (size_t i = 0; i < k->nseen; i++) {
		log_json_escape(topic, sizeof(topic), k->seen[i].topic);
		fprintf(f, "%s{\"topic\":\"%s\",\"partition\":%d,\"stored\":%lld,\"committed\":%lld}",
		        i ? "," : "", topic, (int)k->seen[i].partition, (long long)k->seen[i].stored,
		        (long long)k->seen[i].committed);
	}
	fputs("]}\n", f);
	if (fclose(f) == 0) {
		/* one write, so it does not interleave with other processes' lines */
		fflush(stderr);
		fwrite(buf, 1, size, stderr);
		fflush(stderr);
	}
	free(buf);
}
