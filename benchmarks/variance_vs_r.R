# Benchmark (R side): svyby() means and totals by ~50 groups on a 200,000-row
# stratified cluster design, with Taylor linearisation and with 80 JK1
# replicate weights. Run by benchmarks/variance_vs_r.py, which writes the data;
# by hand:
#
#     Rscript benchmarks/variance_vs_r.R DATA.csv RESULTS.csv TIMINGS.csv 3
#
# DATA.csv has columns stratum, psu, w, jk, group, y. The replicate weights are
# built here from jk (the random group of the PSU, 1..80): replicate r is
# w * 0 for the PSUs of group r and w * 80/79 elsewhere (a grouped JK1
# jackknife); benchmarks/variance_vs_r.py builds the same columns with the
# same floating-point operations.
#
# Only the svyby() calls are timed (system.time, elapsed seconds, each call
# repeated N times): reading the CSV, svydesign(), building the replicate
# weights and svrepdesign() are not. RESULTS.csv gets every estimate and SE
# with 17 significant digits.

suppressPackageStartupMessages(library(survey))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 4) {
  stop("usage: Rscript variance_vs_r.R DATA.csv RESULTS.csv TIMINGS.csv REPEAT")
}
data_path <- args[[1]]
results_path <- args[[2]]
timings_path <- args[[3]]
n_repeat <- as.integer(args[[4]])

d <- read.csv(data_path, stringsAsFactors = FALSE)
taylor <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = d, nest = TRUE)

n_rep <- max(d$jk)
factor_in <- n_rep / (n_rep - 1)
repw <- matrix(0, nrow = nrow(d), ncol = n_rep)
for (r in seq_len(n_rep)) {
  repw[, r] <- d$w * ifelse(d$jk == r, 0, factor_in)
}
replicate <- svrepdesign(
  data = d, repweights = repw, weights = ~w, type = "JK1", combined.weights = TRUE,
  scale = (n_rep - 1) / n_rep, rscales = rep(1, n_rep)
)

calls <- list(
  list(design = "taylor", kind = "mean", fun = function() svyby(~y, ~group, taylor, svymean)),
  list(design = "taylor", kind = "total", fun = function() svyby(~y, ~group, taylor, svytotal)),
  list(design = "jk1", kind = "mean", fun = function() svyby(~y, ~group, replicate, svymean)),
  list(design = "jk1", kind = "total", fun = function() svyby(~y, ~group, replicate, svytotal))
)

timings <- list()
results <- list()
for (call in calls) {
  for (i in seq_len(n_repeat)) {
    elapsed <- system.time(out <- call$fun())[["elapsed"]]
    timings[[length(timings) + 1]] <- data.frame(
      design = call$design, kind = call$kind, run = i, seconds = elapsed
    )
  }
  results[[length(results) + 1]] <- data.frame(
    design = call$design,
    kind = call$kind,
    group = as.character(out$group),
    value = sprintf("%.17g", coef(out)),
    se = sprintf("%.17g", SE(out))
  )
}

write.csv(do.call(rbind, results), results_path, row.names = FALSE)
write.csv(do.call(rbind, timings), timings_path, row.names = FALSE)
cat(sprintf("R %s, survey %s: %d svyby() calls timed\n",
            paste(R.version$major, R.version$minor, sep = "."),
            as.character(packageVersion("survey")), length(timings)))
