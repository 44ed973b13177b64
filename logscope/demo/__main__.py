from logscope.demo.fleet import main

main()
