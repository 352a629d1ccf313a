# Error snapshots record the call the error names (the user's function) as
# well as the message: "Error in `f(...)`: message".
show_error <- function(expr) {
  e <- tryCatch({ expr; NULL }, error = identity)
  if (is.null(e)) stop("no error", call. = FALSE)
  call <- conditionCall(e)
  cat(sprintf("Error%s: %s\n",
              if (is.null(call)) "" else paste0(" in `", paste(deparse(call), collapse = " "), "`"),
              conditionMessage(e)))
}
