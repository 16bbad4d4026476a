console.log("edgefleet test console");
