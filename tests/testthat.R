library(testthat)
library(initvar)

# INITVAR_TESTS=smoke runs only the files listed in smoke-tier.txt
filter <- NULL
if (identical(Sys.getenv("INITVAR_TESTS"), "smoke")) {
  smoke <- grep("^[^#]", trimws(readLines("smoke-tier.txt")), value = TRUE)
  filter <- paste0("^(", paste(smoke, collapse = "|"), ")$")
}
test_check("initvar", filter = filter)
