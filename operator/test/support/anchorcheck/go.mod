module trustbundle.local/anchorcheck

go 1.23
