library(testthat)
library(initvar)

test_check("initvar")
