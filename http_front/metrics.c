/*
 * metrics.c: request counters and latency histograms of this front, by route
 * pattern, method and status, rendered in Prometheus text format.
 */
#include "front.h"

#include <stdio.h>
#include <string.h>

#define MAX_SERIES 512
#define NBOUNDS 11

static const double bounds[NBOUNDS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5, 10};

typedef struct Series
{
	char		route[96];
	char		method[8];
	int			status;
	unsigned long long count;
	unsigned long long buckets[NBOUNDS];
	double		sum;
} Series;

static Series series[MAX_SERIES];
static int	nseries;
static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static long inflight;
static long streams;
static unsigned long long dropped;

/* Records one finished request */
void
metrics_observe(const char *route, const char *method, int status, double seconds)
{
	Series	   *s = NULL;

	pthread_mutex_lock(&metrics_lock);
	for (int i = 0; i < nseries; i++)
		if (series[i].status == status && strcmp(series[i].route, route) == 0 &&
			strcmp(series[i].method, method) == 0)
		{
			s = &series[i];
			break;
		}
	if (!s && nseries < MAX_SERIES)
	{
		s = &series[nseries++];
		snprintf(s->route, sizeof(s->route), "%s", route);
		snprintf(s->method, sizeof(s->method), "%s", method);
		s->status = status;
	}
	if (s)
	{
		s->count++;
		s->sum += seconds;
		for (int b = 0; b < NBOUNDS; b++)
			if (seconds <= bounds[b])
				s->buckets[b]++;
	}
	else
		dropped++;
	pthread_mutex_unlock(&metrics_lock);
}

/* Adjusts the in-flight request gauge */
void
metrics_inflight(int delta)
{
	__atomic_add_fetch(&inflight, delta, __ATOMIC_RELAXED);
}

/* Adjusts the open stream gauge */
void
metrics_stream(int delta)
{
	__atomic_add_fetch(&streams, delta, __ATOMIC_RELAXED);
}

/* Appends a label value with Prometheus escaping */
static void
Label(Buf *b, const char *v)
{
	for (const char *p = v; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			buf_append(b, "\\", 1);
		if (*p == '\n')
		{
			buf_puts(b, "\\n");
			continue;
		}
		buf_append(b, p, 1);
	}
}

/* Renders this process's metrics */
void
metrics_render(Buf *b)
{
	pthread_mutex_lock(&metrics_lock);
	buf_puts(b, "# HELP aigw_http_requests_total Requests answered by this front, by route, method and status.\n"
			 "# TYPE aigw_http_requests_total counter\n");
	for (int i = 0; i < nseries; i++)
	{
		buf_puts(b, "aigw_http_requests_total{route=\"");
		Label(b, series[i].route);
		buf_printf(b, "\",method=\"%s\",status=\"%d\"} %llu\n", series[i].method, series[i].status,
				   series[i].count);
	}
	buf_puts(b, "# HELP aigw_http_request_duration_seconds Time from request to last byte, by route and status.\n"
			 "# TYPE aigw_http_request_duration_seconds histogram\n");
	for (int i = 0; i < nseries; i++)
	{
		Buf			labels;

		buf_init(&labels, 128);
		buf_puts(&labels, "route=\"");
		Label(&labels, series[i].route);
		buf_printf(&labels, "\",method=\"%s\",status=\"%d\"", series[i].method, series[i].status);
		for (int k = 0; k < NBOUNDS; k++)
			buf_printf(b, "aigw_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", labels.data,
					   bounds[k], series[i].buckets[k]);
		buf_printf(b, "aigw_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", labels.data,
				   series[i].count);
		buf_printf(b, "aigw_http_request_duration_seconds_sum{%s} %.6f\n", labels.data, series[i].sum);
		buf_printf(b, "aigw_http_request_duration_seconds_count{%s} %llu\n", labels.data, series[i].count);
		buf_free(&labels);
	}
	pthread_mutex_unlock(&metrics_lock);
	buf_printf(b, "# HELP aigw_http_in_flight Requests being served by this front.\n"
			   "# TYPE aigw_http_in_flight gauge\naigw_http_in_flight %ld\n",
			   __atomic_load_n(&inflight, __ATOMIC_RELAXED));
	buf_printf(b, "# HELP aigw_http_streams Open SSE streams on this front.\n"
			   "# TYPE aigw_http_streams gauge\naigw_http_streams %ld\n",
			   __atomic_load_n(&streams, __ATOMIC_RELAXED));
	buf_printf(b, "# HELP aigw_http_db_connections Open pool connections of this front.\n"
			   "# TYPE aigw_http_db_connections gauge\naigw_http_db_connections %d\n", pool_connected());
	buf_printf(b, "# HELP aigw_http_channel_up 1 when the event channel answers.\n"
			   "# TYPE aigw_http_channel_up gauge\naigw_http_channel_up %d\n", channel_available() ? 1 : 0);
	buf_printf(b, "# HELP aigw_http_metric_series_dropped_total Observations beyond the series limit.\n"
			   "# TYPE aigw_http_metric_series_dropped_total counter\naigw_http_metric_series_dropped_total %llu\n",
			   dropped);
}

/* Requests being served now */
long
metrics_inflight_count(void)
{
	return __atomic_load_n(&inflight, __ATOMIC_RELAXED);
}
