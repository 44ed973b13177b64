from logscope.cli import main

raise SystemExit(main())
