#!/usr/bin/env Rscript
# -----------------------------------------------------------------------------
# make_reference.R -- reference values from R's `survey` package.
#
# Run from the repository root:
#
#     Rscript tests/r/make_reference.R
#
# It writes ONLY into tests/data/r_survey/ (see tests/r/README.md for what each
# file holds).  The Python test suite reads those files and never needs R.
#
# The script is deterministic: the only random step (the bootstrap replicate
# weights) is preceded by an explicit RNGkind() and set.seed(), and no output
# carries a time stamp.  Running it twice on the same R/survey versions gives
# byte-identical files.
#
# Numbers are written with the shortest of 15, 16 or 17 significant digits that
# reads back to the very same double (see fmt_num), so nothing is rounded.
#
# Data: data(api) and data(scd) ship with the survey package (GPL-2 | GPL-3);
# the api data are from the California Department of Education's Academic
# Performance Index.  Only the columns needed here are exported.
# -----------------------------------------------------------------------------

suppressPackageStartupMessages(library(survey))

if (!dir.exists(file.path("tests", "r")))
  stop("run this script from the repository root: Rscript tests/r/make_reference.R")
out_dir <- file.path("tests", "data", "r_survey")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
out <- function(name) file.path(out_dir, name)

# Survey options in force at the start (package defaults, stated explicitly).
options(survey.lonely.psu = "fail",
        survey.adjust.domain.lonely = FALSE,
        survey.replicates.mse = FALSE,
        survey.drop.replicates = TRUE)

# ---------------------------------------------------------------------------
# Formatting helpers
# ---------------------------------------------------------------------------

# Shortest decimal (15, 16 or 17 significant digits) that parses back to
# exactly the same double.  NA -> NA (written as an empty field).
fmt_num <- function(x) {
  x <- as.numeric(x)
  res <- rep(NA_character_, length(x))
  todo <- !is.na(x)
  res[is.nan(x)] <- "NaN"
  todo <- todo & !is.nan(x)
  for (d in 15:17) {
    if (!any(todo)) break
    s <- sprintf("%.*g", d, x[todo])
    ok <- as.numeric(s) == x[todo] | d == 17
    idx <- which(todo)[ok]
    res[idx] <- s[ok]
    todo[idx] <- FALSE
  }
  # sprintf("%g") may give "1e+05"-style exponents; both R and pandas read them.
  res
}

# Write a data.frame: numeric columns through fmt_num (unquoted), other
# columns as quoted text, NA as an empty field, no row names.
write_csv_exact <- function(df, file) {
  num <- vapply(df, is.numeric, logical(1))
  txt <- df
  for (j in seq_along(df)) {
    txt[[j]] <- if (num[j]) fmt_num(df[[j]]) else as.character(df[[j]])
  }
  write.csv(txt, file, row.names = FALSE, na = "", quote = which(!num),
            fileEncoding = "UTF-8")
  invisible(file)
}

# Minimal JSON writer (jsonlite's digits=NA stops at 15 digits, which can
# round).  Named list -> object; unnamed list -> array; atomic length 1 ->
# scalar; atomic of another length -> array; NULL / NA -> null.
json_str <- function(s) {
  s <- gsub("\\\\", "\\\\\\\\", s)
  s <- gsub("\"", "\\\\\"", s)
  s <- gsub("\n", "\\\\n", s)
  paste0("\"", s, "\"")
}
json_scalar <- function(v) {
  if (is.na(v)) return("null")
  if (is.logical(v)) return(if (v) "true" else "false")
  if (is.numeric(v)) return(fmt_num(v))
  json_str(as.character(v))
}
to_json <- function(x, indent = 0) {
  pad <- strrep("  ", indent + 1)
  pad0 <- strrep("  ", indent)
  if (is.null(x)) return("null")
  if (is.list(x)) {
    if (length(x) == 0) return(if (is.null(names(x))) "[]" else "{}")
    items <- vapply(x, to_json, character(1), indent = indent + 1)
    scalars <- all(vapply(x, function(e) is.atomic(e) && length(e) == 1, logical(1)))
    if (is.null(names(x)) && scalars)   # short arrays of scalars on one line
      return(paste0("[", paste(items, collapse = ", "), "]"))
    if (!is.null(names(x))) {
      body <- paste0(pad, json_str(names(x)), ": ", items, collapse = ",\n")
      return(paste0("{\n", body, "\n", pad0, "}"))
    }
    return(paste0("[\n", paste0(pad, items, collapse = ",\n"), "\n", pad0, "]"))
  }
  if (is.factor(x)) x <- as.character(x)
  if (length(x) == 1) return(json_scalar(x))
  paste0("[", paste(vapply(x, json_scalar, character(1)), collapse = ", "), "]")
}

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

data(api)   # apistrat (200 rows), apiclus1 (183), apiclus2 (126), ...
data(scd)   # 6 rows: cardiac arrests, 3 strata (ESA) x 2 PSUs (ambulance)

vars_api <- c("api00", "api99", "enroll", "api.stu", "sch.wide")

# Keep only design columns, an identifier (snum) and the analysis variables.
apistrat_x <- apistrat[, c("snum", "stype", "pw", "fpc", vars_api)]
apiclus1_x <- apiclus1[, c("snum", "dnum", "stype", "pw", "fpc", vars_api)]
apiclus2_x <- apiclus2[, c("snum", "dnum", "stype", "pw", "fpc1", "fpc2", vars_api)]
# apiclus2$fpc2 is a 1-d array carrying dimnames; keep the plain values.
apiclus2_x$fpc2 <- as.vector(apiclus2_x$fpc2)

# Lonely-PSU data: apistrat with stratum "H" cut down to its first row
# (in file order), so that stratum H has a single PSU.  pw and fpc are left
# exactly as in apistrat (pw = 15.1, fpc = 755 for H).
first_h <- which(apistrat_x$stype == "H")[1]
apistrat_lonely_x <- apistrat_x[apistrat_x$stype != "H" | seq_len(nrow(apistrat_x)) == first_h, ]

# scd with an explicit fpc column (the docs use fpc=rep(5,6)).
scd_x <- scd
scd_x$fpc <- 5

data_files <- list(
  apistrat = list(df = apistrat_x, file = "apistrat.csv"),
  apistrat_lonely = list(df = apistrat_lonely_x, file = "apistrat_lonely.csv"),
  apiclus1 = list(df = apiclus1_x, file = "apiclus1.csv"),
  apiclus2 = list(df = apiclus2_x, file = "apiclus2.csv"),
  scd = list(df = scd_x, file = "scd.csv")
)
for (nm in names(data_files)) {
  f <- out(data_files[[nm]]$file)
  df <- data_files[[nm]]$df
  write_csv_exact(df, f)
  # Round-trip check: every exported value reads back identical.
  back <- read.csv(f, stringsAsFactors = FALSE)
  stopifnot(identical(dim(back), dim(df)))
  for (j in names(df)) {
    a <- as.vector(df[[j]]); b <- back[[j]]
    if (is.numeric(a)) stopifnot(identical(is.na(a), is.na(b)), all(a == b, na.rm = TRUE))
    else stopifnot(identical(as.character(a), as.character(b)))
  }
}

# ---------------------------------------------------------------------------
# Designs (Taylor linearisation), exactly as in the survey package docs
# ---------------------------------------------------------------------------

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat_x, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1_x, fpc = ~fpc)
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2_x)
dclus1_nofpc <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1_x)
dstrat_lonely <- svydesign(id = ~1, strata = ~stype, weights = ~pw,
                           data = apistrat_lonely_x, fpc = ~fpc)
# ?svrepdesign / ?scd: three strata (ESA) with two PSUs (ambulance) each.
scd_taylor <- svydesign(data = scd_x, prob = ~1, id = ~ambulance, strata = ~ESA,
                        nest = TRUE, fpc = ~fpc)

# ---------------------------------------------------------------------------
# Replicate designs
# ---------------------------------------------------------------------------

dclus1_jk1 <- as.svrepdesign(dclus1, type = "JK1")
dstrat_jkn <- as.svrepdesign(dstrat, type = "JKn")

RNGkind("Mersenne-Twister", "Inversion", "Rejection")
set.seed(20261128)
dclus1_boot <- as.svrepdesign(dclus1, type = "bootstrap", replicates = 50)
# Same replicate weights (same seed), but variance about the full-sample
# estimate instead of the replicate mean (mse=TRUE).
set.seed(20261128)
dclus1_boot_mse <- as.svrepdesign(dclus1, type = "bootstrap", replicates = 50, mse = TRUE)
stopifnot(identical(weights(dclus1_boot, "analysis"), weights(dclus1_boot_mse, "analysis")))

# BRR: Hadamard example from ?svrepdesign (Levy & Lemeshow), 4 half-samples.
repweights <- 2 * cbind(c(1, 0, 1, 0, 1, 0), c(1, 0, 0, 1, 0, 1),
                        c(0, 1, 1, 0, 0, 1), c(0, 1, 0, 1, 1, 0))
# The docs give no sampling weights here, so R warns "No sampling weights
# provided: equal probability assumed"; such construction warnings are kept
# for messages.csv.
construction_warnings <- list()
keep_warnings <- function(name, expr) {
  withCallingHandlers(expr, warning = function(w) {
    construction_warnings[[length(construction_warnings) + 1]] <<-
      c(design = name, message = conditionMessage(w))
    invokeRestart("muffleWarning")
  })
}
scd_brr <- keep_warnings("scd_brr",
  svrepdesign(data = scd_x, type = "BRR", repweights = repweights,
              combined.weights = FALSE))
# Fay's method with rho = 0.5 on the same half-samples:
# factor = 1 + (1 - rho) * (brr - 1), i.e. 1.5 in the half-sample, 0.5 out.
fay_rho <- 0.5
fayweights <- 1 + (1 - fay_rho) * (repweights - 1)
scd_fay <- keep_warnings("scd_fay",
  svrepdesign(data = scd_x, type = "Fay", rho = fay_rho,
              repweights = fayweights, combined.weights = FALSE))

# Successive difference replication (svrepdesign type="successive-difference",
# supported by this survey version: scale = 4/R, rscales = 1).
# Replicate factors built as in Fay & Train (1995) / the ACS: with H the
# 80x80 Hadamard matrix from survey::hadamard(79) recoded to +-1, unit i (in
# file order) gets rows a = ((i-1) mod 80) + 1 and b = (i mod 80) + 1 and
#   f[i, r] = 1 + 2^(-3/2) * H[a, r] - 2^(-3/2) * H[b, r]   (0.293, 1 or 1.707).
H80 <- 2 * hadamard(79) - 1
stopifnot(nrow(H80) == 80, ncol(H80) == 80, all(abs(H80) == 1))
n_sdr <- nrow(apistrat_x)
ra1 <- ((seq_len(n_sdr) - 1) %% 80) + 1
ra2 <- (seq_len(n_sdr) %% 80) + 1
sdr_factors <- 1 + 2^(-1.5) * H80[ra1, ] - 2^(-1.5) * H80[ra2, ]
dstrat_sdr <- keep_warnings("dstrat_sdr",
  svrepdesign(data = apistrat_x, weights = ~pw, repweights = sdr_factors,
              type = "successive-difference", combined.weights = FALSE))

# ---------------------------------------------------------------------------
# Design metadata and replicate-weight exports
# ---------------------------------------------------------------------------

taylor_meta <- list(
  dstrat = list(kind = "taylor", data = "apistrat.csv",
                r_call = "svydesign(id=~1, strata=~stype, weights=~pw, data=apistrat, fpc=~fpc)",
                stages = list(list(ids = NULL, strata = "stype", fpc = "fpc")),
                weights = "pw", probs = NULL, nest = FALSE),
  dclus1 = list(kind = "taylor", data = "apiclus1.csv",
                r_call = "svydesign(id=~dnum, weights=~pw, data=apiclus1, fpc=~fpc)",
                stages = list(list(ids = "dnum", strata = NULL, fpc = "fpc")),
                weights = "pw", probs = NULL, nest = FALSE),
  dclus2 = list(kind = "taylor", data = "apiclus2.csv",
                r_call = "svydesign(id=~dnum+snum, fpc=~fpc1+fpc2, data=apiclus2)",
                stages = list(list(ids = "dnum", strata = NULL, fpc = "fpc1"),
                              list(ids = "snum", strata = NULL, fpc = "fpc2")),
                weights = NULL, probs = NULL, nest = FALSE,
                note = paste("No weights argument: R derives the weights from the fpcs,",
                             "1/((n1/fpc1)*(n2/fpc2)) with n1 sampled districts and n2",
                             "sampled schools in the district; the exported pw column",
                             "agrees with them to ~6e-14 absolute.")),
  dclus1_nofpc = list(kind = "taylor", data = "apiclus1.csv",
                      r_call = "svydesign(id=~dnum, weights=~pw, data=apiclus1)",
                      stages = list(list(ids = "dnum", strata = NULL, fpc = NULL)),
                      weights = "pw", probs = NULL, nest = FALSE,
                      note = "No fpc: with-replacement variance at the first stage."),
  dstrat_lonely = list(kind = "taylor", data = "apistrat_lonely.csv",
                       r_call = paste("svydesign(id=~1, strata=~stype, weights=~pw,",
                                      "data=apistrat_lonely, fpc=~fpc)"),
                       stages = list(list(ids = NULL, strata = "stype", fpc = "fpc")),
                       weights = "pw", probs = NULL, nest = FALSE,
                       note = paste0("apistrat with stratum H reduced to its first row ",
                                     "(snum ", apistrat_x$snum[first_h], "), pw and fpc ",
                                     "unchanged. Evaluated under options(survey.lonely.psu=) ",
                                     "remove, adjust, average, certainty (see lonely_psu ",
                                     "column of reference.csv); 'fail' errors (messages.csv).")),
  scd_taylor = list(kind = "taylor", data = "scd.csv",
             r_call = "svydesign(data=scd, prob=~1, id=~ambulance, strata=~ESA, nest=TRUE, fpc=rep(5,6))",
             stages = list(list(ids = "ambulance", strata = "ESA", fpc = "fpc")),
             weights = NULL, probs = 1, nest = TRUE,
             note = "prob=~1: every unit has weight 1; fpc = 5 PSUs per stratum (column fpc).")
)
for (nm in names(taylor_meta)) taylor_meta[[nm]]$fpc_type <- "population_size"

rep_calls <- list(
  dclus1_jk1 = list(data = "apiclus1.csv", from = "dclus1",
                    r_call = "as.svrepdesign(dclus1, type=\"JK1\")"),
  dstrat_jkn = list(data = "apistrat.csv", from = "dstrat",
                    r_call = "as.svrepdesign(dstrat, type=\"JKn\")"),
  dclus1_boot = list(data = "apiclus1.csv", from = "dclus1",
                     r_call = paste("RNGkind(\"Mersenne-Twister\", \"Inversion\", \"Rejection\");",
                                    "set.seed(20261128);",
                                    "as.svrepdesign(dclus1, type=\"bootstrap\", replicates=50)")),
  dclus1_boot_mse = list(data = "apiclus1.csv", from = "dclus1",
                         r_call = paste("set.seed(20261128);",
                                        "as.svrepdesign(dclus1, type=\"bootstrap\", replicates=50, mse=TRUE)"),
                         note = "Same replicate weights as dclus1_boot; mse=TRUE."),
  scd_brr = list(data = "scd.csv", from = NULL,
                 r_call = paste("repweights <- 2*cbind(c(1,0,1,0,1,0), c(1,0,0,1,0,1),",
                                "c(0,1,1,0,0,1), c(0,1,0,1,1,0));",
                                "svrepdesign(data=scd, type=\"BRR\", repweights=repweights,",
                                "combined.weights=FALSE)"),
                 note = "No sampling weights given: R assumes weight 1 (warning recorded in messages.csv)."),
  scd_fay = list(data = "scd.csv", from = NULL,
                 r_call = paste("svrepdesign(data=scd, type=\"Fay\", rho=0.5,",
                                "repweights=1+(1-0.5)*(repweights-1), combined.weights=FALSE)"),
                 note = "Fay factors 1.5/0.5 on the BRR half-samples; weight 1 assumed."),
  dstrat_sdr = list(data = "apistrat.csv", from = NULL,
                    r_call = paste("svrepdesign(data=apistrat, weights=~pw, repweights=sdr_factors,",
                                   "type=\"successive-difference\", combined.weights=FALSE)"),
                    note = paste("sdr_factors[i,r] = 1 + 2^(-3/2)*H[a_i,r] - 2^(-3/2)*H[b_i,r],",
                                 "H = 2*survey::hadamard(79)-1 (80x80), a_i = ((i-1) mod 80)+1,",
                                 "b_i = (i mod 80)+1, i = row in apistrat.csv. Strata are not used."))
)

rep_meta <- list()
for (nm in names(rep_calls)) {
  d <- get(nm)
  wa <- as.matrix(weights(d, "analysis"))     # combined replicate weights
  ws <- as.numeric(weights(d, "sampling"))    # full-sample weights
  stopifnot(nrow(wa) == length(ws))
  file <- if (nm == "dclus1_boot_mse") "repw_dclus1_boot.csv" else paste0("repw_", nm, ".csv")
  if (nm != "dclus1_boot_mse") {
    rw <- data.frame(row = seq_len(nrow(wa)), weight = ws)
    colnames(wa) <- paste0("rep", seq_len(ncol(wa)))
    rw <- cbind(rw, as.data.frame(wa))
    write_csv_exact(rw, out(file))
  }
  m <- rep_calls[[nm]]
  rep_meta[[nm]] <- c(
    list(kind = "replicate", data = m$data, from = m$from, r_call = m$r_call,
         replicate_weights = file,
         replicate_weights_layout = paste("row = 1-based row of the data file; weight =",
                                          "weights(d, 'sampling'); rep1..repR =",
                                          "weights(d, 'analysis') (combined: already",
                                          "multiplied by the sampling weight)"),
         type = d$type, n_replicates = ncol(wa), scale = as.numeric(d$scale),
         rscales = as.list(as.numeric(d$rscales)), mse = isTRUE(d$mse),
         # rho only means something for Fay (as.svrepdesign stores 0 otherwise)
         rho = if (d$type == "Fay") as.numeric(d$rho) else NULL,
         combined_weights_in_R = isTRUE(d$combined.weights),
         degf = degf(d)),
    if (!is.null(m$note)) list(note = m$note) else NULL)
}

# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------

rows <- list()
messages <- list()

# Evaluate one R call (given as text, so the `call` column is exactly what
# ran), collecting warnings and errors.
run_call <- function(call_str, case, design, lonely) {
  warns <- character(0)
  val <- tryCatch(
    withCallingHandlers(eval(parse(text = call_str), envir = globalenv()),
                        warning = function(w) {
                          warns <<- c(warns, conditionMessage(w))
                          invokeRestart("muffleWarning")
                        }),
    error = function(e) structure(list(msg = conditionMessage(e)), class = "call_error"))
  for (w in unique(warns))
    messages[[length(messages) + 1]] <<- data.frame(
      case = case, design = design, lonely_psu = lonely, kind = "warning",
      call = call_str, message = w, stringsAsFactors = FALSE)
  if (inherits(val, "call_error")) {
    messages[[length(messages) + 1]] <<- data.frame(
      case = case, design = design, lonely_psu = lonely, kind = "error",
      call = call_str, message = val$msg, stringsAsFactors = FALSE)
    return(NULL)
  }
  val
}

add_rows <- function(case, design, lonely, statistic, variable, denominator = NA,
                     by = NA, subset = NA, group = NA, prob = NA, estimate, se = NA,
                     df = NA, ci_lower = NA, ci_upper = NA, ci_level = NA, ci_df = NA,
                     call) {
  n <- length(estimate)
  rows[[length(rows) + 1]] <<- data.frame(
    case = case, design = design, lonely_psu = lonely, statistic = statistic,
    variable = variable, denominator = denominator, by = by, subset = subset,
    group = as.character(group), prob = as.numeric(prob),
    estimate = as.numeric(estimate), se = as.numeric(se), df = as.numeric(df),
    ci_lower = as.numeric(ci_lower), ci_upper = as.numeric(ci_upper),
    ci_level = as.numeric(ci_level), ci_df = as.numeric(ci_df),
    call = rep(call, n), stringsAsFactors = FALSE)
}

# Estimates, SEs and Wald (normal, level 0.95) intervals of a survey result,
# optionally keeping only the entries selected by `keep` (a logical function
# of the coefficient names).
extract <- function(obj, keep = NULL) {
  est <- coef(obj)
  se <- as.vector(as.matrix(SE(obj)))
  ci <- confint(obj)                 # default: level = 0.95, df = Inf
  stopifnot(length(se) == length(est), nrow(ci) == length(est))
  sel <- if (is.null(keep)) rep(TRUE, length(est)) else keep(names(est))
  list(names = names(est)[sel], est = unname(est[sel]), se = se[sel],
       lo = unname(ci[sel, 1]), hi = unname(ci[sel, 2]))
}

# `cfg` says which variables the battery uses for a data set.
cfg_api <- list(total = "enroll", means = c("api00", "api99"), by = "stype",
                subset = "stype==\"E\"", subset_tag = "E",
                share = "sch.wide==\"Yes\"", share_tag = "schwide_yes",
                num = "api.stu", den = "enroll", quant = "api00", count = "stype",
                na_vars = character(0))
cfg_scd <- list(total = "arrests", means = c("alive", "arrests"), by = "ESA",
                subset = "ESA==1", subset_tag = "1",
                share = NULL, share_tag = NULL,
                # No quantiles for scd: with 6 units the Woodruff intervals run
                # past the data range and R returns NaN SEs/limits.
                num = "alive", den = "arrests", quant = NULL, count = NULL,
                na_vars = character(0))

run_battery <- function(D, cfg, lonely = NA, design_label = D) {
  lab <- if (is.na(lonely)) D else paste0(D, "_", lonely)
  des <- get(D)
  dfD <- degf(des)
  narm <- function(v) if (any(v %in% cfg$na_vars)) ", na.rm=TRUE" else ""
  go <- function(case, call) run_call(call, case, design_label, lonely)

  # totals and means
  case <- paste0(lab, "_total_", cfg$total)
  call <- sprintf("svytotal(~%s, %s%s)", cfg$total, D, narm(cfg$total))
  if (!is.null(r <- go(case, call))) {
    x <- extract(r)
    add_rows(case, design_label, lonely, "total", cfg$total, estimate = x$est, se = x$se,
             df = dfD, ci_lower = x$lo, ci_upper = x$hi, ci_level = 0.95, call = call)
  }
  for (v in cfg$means) {
    case <- paste0(lab, "_mean_", v)
    call <- sprintf("svymean(~%s, %s%s)", v, D, narm(v))
    if (!is.null(r <- go(case, call))) {
      x <- extract(r)
      add_rows(case, design_label, lonely, "mean", v, estimate = x$est, se = x$se,
               df = dfD, ci_lower = x$lo, ci_upper = x$hi, ci_level = 0.95, call = call)
    }
  }
  v <- cfg$means[1]

  # t-based interval for the first mean: confint(..., df=degf(d))
  case <- paste0(lab, "_mean_", v, "_tci")
  call <- sprintf("confint(svymean(~%s, %s%s), df=degf(%s))", v, D, narm(v), D)
  if (!is.null(ci <- go(case, call))) {
    r <- svymean(as.formula(paste0("~", v)), des, na.rm = nzchar(narm(v)))
    add_rows(case, design_label, lonely, "mean", v, estimate = unname(coef(r)),
             se = as.numeric(SE(r)), df = dfD, ci_lower = ci[1, 1], ci_upper = ci[1, 2],
             ci_level = 0.95, ci_df = dfD, call = call)
  }

  # domains
  case <- paste0(lab, "_mean_", v, "_by_", cfg$by)
  call <- sprintf("svyby(~%s, ~%s, %s, svymean%s)", v, cfg$by, D, narm(v))
  if (!is.null(r <- go(case, call))) {
    x <- extract(r)
    add_rows(case, design_label, lonely, "mean", v, by = cfg$by, group = x$names,
             estimate = x$est, se = x$se, df = dfD, ci_lower = x$lo, ci_upper = x$hi,
             ci_level = 0.95, call = call)
  }
  case <- paste0(lab, "_total_", cfg$total, "_by_", cfg$by)
  call <- sprintf("svyby(~%s, ~%s, %s, svytotal%s)", cfg$total, cfg$by, D, narm(cfg$total))
  if (!is.null(r <- go(case, call))) {
    x <- extract(r)
    add_rows(case, design_label, lonely, "total", cfg$total, by = cfg$by, group = x$names,
             estimate = x$est, se = x$se, df = dfD, ci_lower = x$lo, ci_upper = x$hi,
             ci_level = 0.95, call = call)
  }
  case <- paste0(lab, "_mean_", v, "_subset_", cfg$subset_tag)
  call <- sprintf("svymean(~%s, subset(%s, %s)%s)", v, D, cfg$subset, narm(v))
  if (!is.null(r <- go(case, call))) {
    x <- extract(r)
    dfS <- degf(eval(parse(text = sprintf("subset(%s, %s)", D, cfg$subset))))
    add_rows(case, design_label, lonely, "mean", v, subset = cfg$subset,
             estimate = x$est, se = x$se, df = dfS, ci_lower = x$lo, ci_upper = x$hi,
             ci_level = 0.95, call = call)
  }

  # share (proportion of TRUE for a logical condition), overall and by domain
  if (!is.null(cfg$share)) {
    is_true <- function(nms) grepl("TRUE$", nms)
    case <- paste0(lab, "_share_", cfg$share_tag)
    call <- sprintf("svymean(~I(%s), %s)", cfg$share, D)
    if (!is.null(r <- go(case, call))) {
      x <- extract(r, is_true)
      add_rows(case, design_label, lonely, "share", cfg$share, estimate = x$est, se = x$se,
               df = dfD, ci_lower = x$lo, ci_upper = x$hi, ci_level = 0.95, call = call)
    }
    case <- paste0(lab, "_share_", cfg$share_tag, "_by_", cfg$by)
    call <- sprintf("svyby(~I(%s), ~%s, %s, svymean)", cfg$share, cfg$by, D)
    if (!is.null(r <- go(case, call))) {
      x <- extract(r, is_true)
      add_rows(case, design_label, lonely, "share", cfg$share, by = cfg$by,
               group = sub(":.*$", "", x$names), estimate = x$est, se = x$se, df = dfD,
               ci_lower = x$lo, ci_upper = x$hi, ci_level = 0.95, call = call)
    }
  }

  # ratio, overall and by domain
  nr <- narm(c(cfg$num, cfg$den))
  case <- paste0(lab, "_ratio_", gsub("\\.", "", cfg$num), "_", cfg$den)
  call <- sprintf("svyratio(~%s, ~%s, %s%s)", cfg$num, cfg$den, D, nr)
  if (!is.null(r <- go(case, call))) {
    x <- extract(r)
    add_rows(case, design_label, lonely, "ratio", cfg$num, denominator = cfg$den,
             estimate = x$est, se = x$se, df = dfD, ci_lower = x$lo, ci_upper = x$hi,
             ci_level = 0.95, call = call)
  }
  case <- paste0(lab, "_ratio_", gsub("\\.", "", cfg$num), "_", cfg$den, "_by_", cfg$by)
  call <- sprintf("svyby(~%s, ~%s, denominator=~%s, design=%s, svyratio%s)",
                  cfg$num, cfg$by, cfg$den, D, nr)
  if (!is.null(r <- go(case, call))) {
    x <- extract(r)
    add_rows(case, design_label, lonely, "ratio", cfg$num, denominator = cfg$den,
             by = cfg$by, group = sub(":.*$", "", x$names), estimate = x$est, se = x$se,
             df = dfD, ci_lower = x$lo, ci_upper = x$hi, ci_level = 0.95, call = call)
  }

  # quantiles with the default rule/interval (qrule="math",
  # interval.type="mean"); the interval is R's (Woodruff) interval at
  # alpha=0.05 with df=degf(d), and SE = (upper - lower) / (2*qt(0.975, df)).
  probs <- c(0.25, 0.5, 0.75)
  case <- paste0(lab, "_quantile_", cfg$quant)
  call <- sprintf("svyquantile(~%s, %s, c(0.25, 0.5, 0.75), ci=TRUE)", cfg$quant, D)
  if (!is.null(cfg$quant) && !is.null(q <- go(case, call))) {
    ci <- confint(q)
    add_rows(case, design_label, lonely, "quantile", cfg$quant, prob = probs,
             estimate = unname(coef(q)), se = unname(SE(q)), df = dfD,
             ci_lower = unname(ci[, 1]), ci_upper = unname(ci[, 2]), ci_level = 0.95,
             ci_df = dfD, call = call)
  }

  # degrees of freedom
  case <- paste0(lab, "_df")
  call <- sprintf("degf(%s)", D)
  if (!is.null(r <- go(case, call)))
    add_rows(case, design_label, lonely, "df", NA, estimate = r, df = r, call = call)

  # counts by category: svytotal of a factor (category in `group`)
  if (!is.null(cfg$count)) {
    case <- paste0(lab, "_count_", cfg$count)
    call <- sprintf("svytotal(~%s, %s)", cfg$count, D)
    if (!is.null(r <- go(case, call))) {
      x <- extract(r)
      add_rows(case, design_label, lonely, "count", cfg$count,
               group = sub(paste0("^", cfg$count), "", x$names), estimate = x$est,
               se = x$se, df = dfD, ci_lower = x$lo, ci_upper = x$hi, ci_level = 0.95,
               call = call)
    }
  }
}

# Taylor designs
run_battery("dstrat", cfg_api)
run_battery("dclus1", cfg_api)
cfg_api_na <- cfg_api
cfg_api_na$na_vars <- "enroll"   # apiclus2$enroll has 6 NAs -> na.rm=TRUE
run_battery("dclus2", cfg_api_na)
run_battery("dclus1_nofpc", cfg_api)
# Replicate designs
run_battery("dclus1_jk1", cfg_api)
run_battery("dstrat_jkn", cfg_api)
run_battery("dclus1_boot", cfg_api)
run_battery("dclus1_boot_mse", cfg_api)
run_battery("dstrat_sdr", cfg_api)
# scd (2 PSUs per stratum): Taylor, BRR, Fay
run_battery("scd_taylor", cfg_scd)
run_battery("scd_brr", cfg_scd)
run_battery("scd_fay", cfg_scd)
# lonely PSU (stratum H has one PSU) under each option; "fail" is expected to
# error (recorded in messages.csv only).
for (opt in c("remove", "adjust", "average", "certainty", "fail")) {
  options(survey.lonely.psu = opt)
  run_battery("dstrat_lonely", cfg_api, lonely = opt)
}
options(survey.lonely.psu = "fail")

# Warnings raised while the designs were built (case = design id).
for (w in construction_warnings)
  messages[[length(messages) + 1]] <- data.frame(
    case = w[["design"]], design = w[["design"]], lonely_psu = NA, kind = "warning",
    call = rep_calls[[w[["design"]]]]$r_call, message = w[["message"]],
    stringsAsFactors = FALSE)

ref <- do.call(rbind, rows)
stopifnot(!anyDuplicated(ref[, c("case", "group", "prob")]))
write_csv_exact(ref, out("reference.csv"))
msgs <- do.call(rbind, messages)
write_csv_exact(msgs, out("messages.csv"))

# ---------------------------------------------------------------------------
# designs.json and versions.txt
# ---------------------------------------------------------------------------

meta <- list(
  R.version.string = R.version.string,
  survey = as.character(packageVersion("survey")),
  RNGkind = as.list(RNGkind()),
  options = list(survey.lonely.psu = "fail (default; changed per lonely_psu rows)",
                 survey.adjust.domain.lonely = FALSE,
                 survey.replicates.mse = FALSE,
                 survey.drop.replicates = TRUE),
  # Defaults read from the installed methods (first choice of match.arg).
  quantile_defaults = list(
    taylor = list(
      qrule = eval(formals(survey:::svyquantile.survey.design)$qrule)[1],
      interval.type = eval(formals(survey:::svyquantile.survey.design)$interval.type)[1]),
    replicate = list(
      qrule = eval(formals(survey:::svyquantile.svyrep.design)$qrule)[1],
      interval.type = eval(formals(survey:::svyquantile.svyrep.design)$interval.type)[1]),
    alpha = 0.05, df = "degf(design)",
    interval = "Woodruff: CI of the estimated CDF at the quantile, mapped back through the qrule",
    se = "(ci_upper - ci_lower) / (2 * qt(0.975, df))"),
  ci_defaults = list(level = 0.95,
                     wald = "confint(x): normal, estimate -/+ qnorm(0.975) * se",
                     t = "confint(x, df=degf(d)): estimate -/+ qt(0.975, df) * se"),
  data_files = lapply(data_files, function(x) list(file = x$file, rows = nrow(x$df),
                                                   columns = as.list(names(x$df)))),
  designs = c(taylor_meta, rep_meta)
)
# Attach degf to the Taylor designs too.
for (nm in names(taylor_meta)) {
  meta$designs[[nm]]$degf <- degf(get(nm))
}
writeLines(to_json(meta), out("designs.json"), useBytes = TRUE)

writeLines(c(
  paste("R.version.string:", R.version.string),
  paste("nickname:", R.version$nickname),
  paste("platform:", R.version$platform),
  paste("survey:", as.character(packageVersion("survey"))),
  paste("Matrix:", as.character(packageVersion("Matrix"))),
  paste("survival:", as.character(packageVersion("survival"))),
  paste("RNGkind:", paste(RNGkind(), collapse = ", ")),
  paste("rows in reference.csv:", nrow(ref)),
  paste("rows in messages.csv:", nrow(msgs))
), out("versions.txt"))

cat("wrote", nrow(ref), "reference rows and", nrow(msgs), "messages to", out_dir, "\n")
