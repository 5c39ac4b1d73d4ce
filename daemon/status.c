#include <stdlib.h>

#include "status.h"

void status_release(struct status *st)
{
	free(st->meters);
	st->meters = NULL;
	st->nmeters = 0;
	free(st->sources);
	st->sources = NULL;
	st->nsources = 0;
	free(st->sinks);
	st->sinks = NULL;
	st->nsinks = 0;
}
