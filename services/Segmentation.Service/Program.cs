using Segmentation.Service.Admin;
using Segmentation.Service.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSegmentationService(SegmentationSettings.FromConfiguration(builder.Configuration));

var app = builder.Build();
app.MapCustomerEndpoints();
app.MapRulesetEndpoints();
app.MapGet("/health", () => Results.Ok("healthy"));
app.Run();

public partial class Program;
