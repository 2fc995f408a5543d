"""Due process: objections, credit repair, notices, disclosure after grace, corrections."""
