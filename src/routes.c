/*
 * routes.c: the route matcher of the HTTP entry. The route table
 * (aigw.http_routes) is read once per backend and kept in memory until the
 * table changes (relcache invalidation), so matching a request costs no query.
 * Static patterns win over :param patterns; among :param patterns a static
 * segment beats a parameter at the first position where they differ.
 */
#include "aigw.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#define MAX_SEGS 16

typedef struct Route
{
	char	   *method;
	char	   *pattern;
	char	   *handler;
	char	   *permission;
	bool		admin_only;
	char	   *task_kind;		/* NULL when none */
	int			nseg;
	char	   *segs[MAX_SEGS];
	bool		is_param[MAX_SEGS];
	bool		is_static;
} Route;

static Route *routes;
static int	nroutes;
static bool routes_valid;
static bool callback_registered;
static MemoryContext routes_cxt;
static Oid	routes_relid = InvalidOid;

/* A change to the route table (or a full reset) reloads it on next use */
static void
InvalidateRoutes(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == routes_relid || routes_relid == InvalidOid)
		routes_valid = false;
}

/* Splits a path into segments (in place); returns the count or -1 if too many */
static int
SplitPath(char *path, char **segs)
{
	int			n = 0;
	char	   *p = path;

	while (*p == '/')
		p++;
	if (*p == '\0')
		return 0;
	for (;;)
	{
		char	   *slash = strchr(p, '/');

		if (n >= MAX_SEGS)
			return -1;
		segs[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
	}
	return n;
}

/* True when route a should be tried before route b (both :param routes) */
static int
CompareRoutes(const void *x, const void *y)
{
	const Route *a = x,
			   *b = y;

	if (a->is_static != b->is_static)
		return a->is_static ? -1 : 1;
	for (int i = 0; i < a->nseg && i < b->nseg; i++)
		if (a->is_param[i] != b->is_param[i])
			return a->is_param[i] ? 1 : -1;
	return strcmp(a->pattern, b->pattern);
}

/* Reads aigw.http_routes into backend memory */
static void
LoadRoutes(void)
{
	MemoryContext old;
	int			rc;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(InvalidateRoutes, (Datum) 0);
		callback_registered = true;
	}
	if (routes_cxt)
		MemoryContextReset(routes_cxt);
	else
		routes_cxt = AllocSetContextCreate(TopMemoryContext, "aigw routes", ALLOCSET_SMALL_SIZES);
	routes = NULL;
	nroutes = 0;
	routes_valid = true;		/* set first: an invalidation during the load wins */
	routes_relid = get_relname_relid("http_routes", get_namespace_oid("aigw", false));

	SPI_connect();
	rc = SPI_execute("SELECT method, pattern, handler, permission, admin_only, task_kind "
					 "FROM aigw.http_routes", true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "cannot read aigw.http_routes");
	old = MemoryContextSwitchTo(routes_cxt);
	routes = palloc0(sizeof(Route) * (SPI_processed + 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Route	   *r = &routes[nroutes];
		char	   *kind = SPI_getvalue(tup, desc, 6);
		char	   *copy;

		r->method = pstrdup(SPI_getvalue(tup, desc, 1));
		r->pattern = pstrdup(SPI_getvalue(tup, desc, 2));
		r->handler = pstrdup(SPI_getvalue(tup, desc, 3));
		r->permission = pstrdup(SPI_getvalue(tup, desc, 4));
		r->admin_only = strcmp(SPI_getvalue(tup, desc, 5), "t") == 0;
		r->task_kind = kind ? pstrdup(kind) : NULL;
		copy = pstrdup(r->pattern);
		r->nseg = SplitPath(copy, r->segs);
		if (r->nseg < 0)
			continue;
		r->is_static = true;
		for (int k = 0; k < r->nseg; k++)
		{
			r->is_param[k] = r->segs[k][0] == ':';
			if (r->is_param[k])
				r->is_static = false;
		}
		nroutes++;
	}
	qsort(routes, nroutes, sizeof(Route), CompareRoutes);
	MemoryContextSwitchTo(old);
	SPI_finish();
}

/* True when the request segments fit the route */
static bool
Matches(const Route *r, const char *method, char **segs, int nseg)
{
	if (r->nseg != nseg || strcmp(r->method, method) != 0)
		return false;
	for (int i = 0; i < nseg; i++)
	{
		if (r->is_param[i])
		{
			if (segs[i][0] == '\0')
				return false;
		}
		else if (strcmp(r->segs[i], segs[i]) != 0)
			return false;
	}
	return true;
}

/* Builds the params object of a matched route */
static Jsonb *
Params(const Route *r, char **segs)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < r->nseg; i++)
		if (r->is_param[i])
		{
			JsonbValue	k,
						v;

			k.type = jbvString;
			k.val.string.val = r->segs[i] + 1;
			k.val.string.len = strlen(r->segs[i] + 1);
			v.type = jbvString;
			v.val.string.val = segs[i];
			v.val.string.len = strlen(segs[i]);
			pushJsonbValue(&state, WJB_KEY, &k);
			pushJsonbValue(&state, WJB_VALUE, &v);
		}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

PG_FUNCTION_INFO_V1(aigw_http_route);

/*
 * aigw.http_route(method, path) -> (pattern, handler, permission, admin_only,
 * task_kind, params, allowed): the matched route, or only "allowed" (the
 * methods that have a route for this path) when none matches.
 */
Datum
aigw_http_route(PG_FUNCTION_ARGS)
{
	char	   *method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *segs[MAX_SEGS];
	int			nseg;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {true, true, true, true, true, true, true};

	/* the result descriptor is built once per call site */
	desc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "aigw.http_route must return a record");
		desc = BlessTupleDesc(CreateTupleDescCopy(desc));
		fcinfo->flinfo->fn_extra = desc;
		MemoryContextSwitchTo(old);
	}
	if (!routes_valid)
		LoadRoutes();
	nseg = SplitPath(path, segs);
	if (nseg >= 0)
	{
		const Route *found = NULL;
		char		allowed[64] = "";

		for (int i = 0; i < nroutes && !found; i++)
			if (Matches(&routes[i], method, segs, nseg))
				found = &routes[i];
		if (found)
		{
			values[0] = CStringGetTextDatum(found->pattern);
			values[1] = CStringGetTextDatum(found->handler);
			values[2] = CStringGetTextDatum(found->permission);
			values[3] = BoolGetDatum(found->admin_only);
			if (found->task_kind)
				values[4] = CStringGetTextDatum(found->task_kind);
			values[5] = JsonbPGetDatum(Params(found, segs));
			for (int k = 0; k < 6; k++)
				nulls[k] = k == 4 && !found->task_kind;
		}
		else
		{
			static const char *const methods[] = {"DELETE", "GET", "PATCH", "POST", "PUT"};

			for (int m = 0; m < 5; m++)
				for (int i = 0; i < nroutes; i++)
					if (Matches(&routes[i], methods[m], segs, nseg))
					{
						if (allowed[0])
							strlcat(allowed, ", ", sizeof(allowed));
						strlcat(allowed, methods[m], sizeof(allowed));
						break;
					}
			if (allowed[0])
			{
				values[6] = CStringGetTextDatum(allowed);
				nulls[6] = false;
			}
		}
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(aigw_http_routes_changed);

/*
 * Statement trigger on aigw.http_routes: row changes do not invalidate the
 * relcache by themselves, so ask for it; every backend (this one at the next
 * command, the others at commit) then reloads its route cache.
 */
Datum
aigw_http_routes_changed(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
						errmsg("aigw_http_routes_changed must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(td->tg_relation));
	PG_RETURN_POINTER(NULL);
}
