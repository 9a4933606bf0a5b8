# Reference numbers for gmmx's model selection, priors and hierarchical start,
# produced with R mclust (Debian r-cran-mclust 6.0.0):
#
#   cd tests/data && Rscript mclust_reference.R > mclust_reference.json
#
# The tests read mclust_reference.json; they never need R.
suppressMessages(library(mclust))
suppressMessages(library(jsonlite))

models <- c("VVV", "EEE", "VVI", "VII")   # gmmx: full, tied, diag, spherical
out <- list(mclust_version = as.character(packageVersion("mclust")))

for (nm in c("faithful", "iris")) {
  X <- as.matrix(read.csv(paste0(nm, ".csv")))
  res <- list()

  # 1. mclust's BIC table, default settings (hcUse = "SVD" start, tol 1e-5);
  #    mclust's BIC = 2 loglik - npar log n (higher is better).
  b <- mclustBIC(X, G = 1:5, modelNames = models)
  res$bic_table <- lapply(setNames(models, models), function(m) unname(b[, m]))
  top <- summary(b, X)
  res$bic_best <- list(G = top$G, modelName = top$modelName)

  # 2. The hierarchical start: hc(X, "VVV", use = "SVD") cut at K = 1..9.
  h <- hc(X, modelName = "VVV", use = "SVD")
  cl <- hclass(h, 1:9)
  res$hc_partitions <- lapply(setNames(1:9, 1:9), function(k)
    paste(cl[, k], collapse = ""))

  # 3. EM from that start, to convergence (tol 1e-12): the log-likelihood per cell.
  ll <- list()
  for (m in models) {
    v <- numeric(5)
    for (g in 1:5) {
      z <- if (g == 1) matrix(1, nrow(X), 1) else unmap(hclass(h, g))
      v[g] <- me(X, modelName = m, z = z, control = emControl(tol = c(1e-12, 1e-12)))$loglik
    }
    ll[[m]] <- v
  }
  res$loglik_tight <- ll

  # 4. MAP fits with the default conjugate prior (priorControl()), from the
  #    same start, run to the fixed point (tol 0, 3000 iterations; NA where a
#    component vanishes), and the
  #    prior's hyperparameters (defaultPrior) for G = 3.
  map <- list()
  for (m in models) for (g in 1:3) {
    z <- if (g == 1) matrix(1, nrow(X), 1) else unmap(hclass(h, g))
    o <- me(X, modelName = m, z = z, prior = priorControl(),
            control = emControl(tol = c(0, 0), itmax = c(3000, 3000)))
    map[[paste0(m, "_", g)]] <- list(
      loglik = o$loglik, pro = unname(o$parameters$pro),
      mean = unname(as.vector(o$parameters$mean)),          # column k = component k
      sigma = unname(as.vector(o$parameters$variance$sigma)))  # p x p x G
  }
  res$map <- map
  res$default_prior <- lapply(setNames(models, models), function(m) {
    p <- defaultPrior(X, G = 3, modelName = m)
    list(shrinkage = p$shrinkage, mean = unname(p$mean), dof = p$dof,
         scale = unname(as.vector(p$scale)))
  })
  out[[nm]] <- res
}
cat(toJSON(out, digits = I(15), auto_unbox = TRUE, pretty = TRUE))
