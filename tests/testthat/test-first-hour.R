
test_that("every help topic is in the pkgdown reference index", {
  yml <- file.path("..", "..", "_pkgdown.yml")
  man <- file.path("..", "..", "man")
  skip_if_not(file.exists(yml) && dir.exists(man))   # a source checkout only
  listed <- sub("^\\s*-\\s*", "", grep("^\\s*-\\s*[A-Za-z.]", readLines(yml), value = TRUE))
  topics <- sub("\\.Rd$", "", list.files(man, pattern = "\\.Rd$"))
  internal <- vapply(file.path(man, paste0(topics, ".Rd")), function(f)
    any(grepl("\\\\keyword\\{internal\\}", readLines(f))), TRUE)
  expect_identical(setdiff(topics[!internal], listed), character(0))
})
