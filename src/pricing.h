/*
 * pricing.h: the effective pricing resolver's C API.
 *
 * Estimates, final billings and console previews all go through these
 * functions, so the same request priced twice gives the same line items.
 */
#ifndef AIGW_PRICING_H
#define AIGW_PRICING_H

#include "postgres.h"

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

/* User group billing discount factor for a model type (1 when none) */
extern Numeric AigwGroupDiscountFactor(Jsonb *policy, const char *modelType);

/*
 * Table-backed calls for the task worker, made inside its transaction (SPI
 * must be usable; the caller is connected or these connect themselves).
 * taskId is a uuid Datum.  AigwPriceTaskUsage prices a task's unified usage
 * without side effects; AigwSettleTask is aigw.settle_task: price, settle the
 * wallet hold, write the settlement outbox event (idempotent).
 * AigwReleaseTask is aigw.release_task for failed or cancelled tasks.
 */
extern Jsonb *AigwPriceTaskUsage(Datum taskId, Jsonb *usage);
extern Jsonb *AigwSettleTask(Datum taskId, Jsonb *usage, Jsonb *resultRef);
extern void AigwReleaseTask(Datum taskId, const char *reason);

#endif							/* AIGW_PRICING_H */
