/*
 * rowwrite.h: rows inserted without an INSERT statement (rowwrite.c).
 */
#ifndef AIGW_ROWWRITE_H
#define AIGW_ROWWRITE_H

#include "access/htup.h"
#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"

typedef struct AigwRowTable AigwRowTable;

/* An index scan for the rows whose first index column equals a key (AigwKeyScanBegin) */
typedef struct AigwKeyScan
{
	Relation	index;
	IndexScanDesc scan;
	Snapshot	snapshot;		/* the statement's, registered */
	TupleTableSlot *slot;		/* the row found */
} AigwKeyScan;

extern void AigwKeyScanBegin(AigwKeyScan *ks, Relation rel, Oid index, RegProcedure eqproc, Datum key);
extern void AigwKeyScanEnd(AigwKeyScan *ks);

extern AigwRowTable *AigwRowTableFor(const char *relname);
extern HeapTuple AigwRowInsert(AigwRowTable *t, int natts, Datum *values, bool *nulls,
							   const bool *usedefault);
extern HeapTuple AigwRowInsertColumns(AigwRowTable *t, int ncols, const char *const *names,
									  const Oid *types, const Datum *vals, const bool *isnull);
extern AttrNumber AigwRowAttnum(AigwRowTable *t, const char *name);
extern int64 AigwRowUpdateByKey(AigwRowTable *t, const char *key_col, Datum key, Oid key_eqproc,
								bool (*keep) (TupleTableSlot *row, void *arg),
								const char *set_col, Oid set_type, Datum value, bool value_null,
								void (*visit) (TupleTableSlot *row, void *arg), void *arg);
extern Datum AigwRowColumn(AigwRowTable *t, HeapTuple tup, const char *name, bool *isnull);

#endif							/* AIGW_ROWWRITE_H */
