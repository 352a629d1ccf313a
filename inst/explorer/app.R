# initvar's explorer: run it with initvar::explore() (or shiny::runApp() on
# this folder). The server logic is in the package (R/explore-app.R).
shiny::shinyApp(initvar:::explorer_ui(), initvar:::explorer_server)
