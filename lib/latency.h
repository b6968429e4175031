/* A latency histogram with bounded memory: log-linear buckets (16 per
 * power of two of microseconds, so about 6% resolution) from 1 us to days,
 * for the p50/p99 figures in the tools' stats lines. */
#ifndef EP_LATENCY_H
#define EP_LATENCY_H

#include <stdint.h>

#define LATENCY_SUB 16
#define LATENCY_BUCKETS (LATENCY_SUB * 40)

struct latency {
	uint64_t count;
	double sum;     /* seconds */
	double max;     /* seconds */
	uint32_t buckets[LATENCY_BUCKETS];
};

/* Zero-initialise a struct latency, or call this. */
void latency_reset(struct latency *l);

/* Records one duration in seconds (negative counts as 0). */
void latency_add(struct latency *l, double seconds);

/* The q-quantile (0..1) in seconds: the middle of the bucket holding it;
 * 0 when nothing was recorded. */
double latency_quantile(const struct latency *l, double q);

/* The mean in seconds, 0 when nothing was recorded. */
double latency_mean(const struct latency *l);

#endif
