/* Token weights for the three loss aggregations (formulas in the header). */
#include "ref/rl/aggregate.h"

#include <stddef.h>

double aggregation_weights(float *w, const int *off, const unsigned char *kept, int n_groups, int G,
                           AggMode mode)
{
    const int N = n_groups * G;
    for (int t = off[0]; t < off[N]; t++) w[t] = 0.0f;

    /* Denominators over kept items only. */
    long tokens_kept = 0;
    int completions_kept = 0, groups_kept = 0;
    for (int g = 0; g < n_groups; g++) {
        long group_tokens = 0;
        for (int j = 0; j < G; j++) {
            int i = g * G + j, n = off[i + 1] - off[i];
            if (!kept[i] || n <= 0) continue;
            group_tokens += n;
            completions_kept++;
        }
        tokens_kept += group_tokens;
        if (group_tokens > 0) groups_kept++;
    }
    if (tokens_kept == 0) return 0.0;

    double sum = 0.0;
    for (int g = 0; g < n_groups; g++) {
        long group_tokens = 0;
        for (int j = 0; j < G; j++) {
            int i = g * G + j;
            if (kept[i] && off[i + 1] > off[i]) group_tokens += off[i + 1] - off[i];
        }
        for (int j = 0; j < G; j++) {
            int i = g * G + j, n = off[i + 1] - off[i];
            if (!kept[i] || n <= 0) continue;
            double wt;
            switch (mode) {
            case AGG_PROMPT: wt = 1.0 / ((double)groups_kept * (double)group_tokens); break;
            case AGG_SAMPLE: wt = 1.0 / ((double)completions_kept * (double)n); break;
            default: wt = 1.0 / (double)tokens_kept; break;
            }
            for (int t = off[i]; t < off[i + 1]; t++) w[t] = (float)wt;
            sum += (double)(float)wt * n;
        }
    }
    return sum;
}
