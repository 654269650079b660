/*
 * pricing.h: the effective pricing resolver's C API.
 *
 * Estimates, final billings and console previews all go through these
 * functions, so the same request priced twice gives the same line items.
 */
#ifndef AIGW_PRICING_H
#define AIGW_PRICING_H

#include "postgres.h"

#include "jsonb_build.h"

#include "utils/jsonb.h"
#include "utils/numeric.h"

/* Money is rounded to this many decimal places per line item */
#define AIGW_PRICING_SCALE 6

/*
 * Unified usage a request is expected to consume (estimate phase).
 * capabilities may be NULL; it supplies defaults the request leaves out.
 */
extern Jsonb *AigwEstimateUsage(const char *modelType, Jsonb *request,
								Jsonb *capabilities);

/*
 * Prices unified usage against an effective billing_config.
 * context (may be NULL) carries userGroupDiscountPolicy or
 * userGroupDiscountFactor, platformDiscountFactor (recorded only: the
 * effective billing_config already includes it), pricingVersion, simulated,
 * phase ("estimate" or "final") and platformModelId.
 * Returns {"currency", "total", "lineItems": [...], ...}.
 */
extern Jsonb *AigwPriceUsage(const char *modelType, Jsonb *usage,
							 Jsonb *billingConfig, Jsonb *context);

/* Whether effective capabilities cover what a request needs (router filter) */
extern bool AigwCapabilitiesAllow(Jsonb *capabilities, const char *modelType, Jsonb *request);

/* Model type a task kind is served by (chat.completions -> chat), or NULL */
extern const char *AigwModelTypeOfKind(const char *kind);

/* User group billing discount factor for a model type (1 when none) */
extern Numeric AigwGroupDiscountFactor(Jsonb *policy, const char *modelType);

/*
 * Table-backed calls for the task worker, made inside its transaction with
 * an active snapshot; they connect to SPI themselves (nesting is fine).
 * taskId is a uuid Datum.  AigwPriceTaskUsage prices a task's unified usage
 * without side effects; AigwSettleTask is aigw.settle_task: price, settle the
 * wallet hold, write the settlement outbox event (idempotent).
 * AigwReleaseTask is aigw.release_task for failed or cancelled tasks.
 */
extern Jsonb *AigwPriceTaskUsage(Datum taskId, Jsonb *usage);
extern Jsonb *AigwSettleTask(Datum taskId, Jsonb *usage, Jsonb *resultRef);
extern void AigwReleaseTask(Datum taskId, const char *reason);

/* Numeric and jsonb helpers shared by the pricing files (pricing_json.c) */
extern Numeric PricingNumFromCString(const char *s);
extern Numeric PricingNumMul(Numeric a, Numeric b);
extern Numeric PricingNumAdd(Numeric a, Numeric b);
extern Numeric PricingNumDiv(Numeric a, Numeric b);
extern Numeric PricingNumCeil(Numeric a);
extern Numeric PricingNumRound(Numeric a, int scale);
extern int PricingNumCmp(Numeric a, Numeric b);
extern bool PricingNumIsZero(Numeric a);
extern JsonbValue *PricingField(JsonbContainer *c, const char *key, JsonbValue *buf);
extern JsonbContainer *PricingFieldObject(JsonbContainer *c, const char *key);
extern JsonbContainer *PricingFieldArray(JsonbContainer *c, const char *key);
extern Numeric PricingValueNumeric(JsonbValue *v, const char *key);
extern Numeric PricingFieldNumeric(JsonbContainer *c, const char *key);
extern int64 PricingFieldCount(JsonbContainer *c, const char *key, int64 dflt);
extern char *PricingValueText(JsonbValue *v);
extern char *PricingFieldText(JsonbContainer *c, const char *key);
extern bool PricingFieldBool(JsonbContainer *c, const char *key, bool dflt);
extern char *PricingFirstArrayText(JsonbContainer *c, const char *key);
extern JsonbContainer *PricingRootObject(Jsonb *j, const char *what);

#endif							/* AIGW_PRICING_H */
