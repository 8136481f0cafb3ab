using Segmentation.Service.Admin;
using Segmentation.Service.OperatorConsole;
using Segmentation.Service.Hosting;
using SegmentationEvents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSegmentationService(SegmentationSettings.FromConfiguration(builder.Configuration), builder.Configuration);

var app = builder.Build();
app.UseRequestBodyLimit(app.Configuration);
app.MapAdminApi();
app.MapConsole();
app.MapHealthEndpoints();
app.MapTelemetryEndpoints();
app.Run();

public partial class Program;
