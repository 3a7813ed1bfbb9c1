from photoclust_app.cli import main

raise SystemExit(main())
