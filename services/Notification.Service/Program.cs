using Notification.Service.Hosting;
using Notification.Service.Sending;
using SegmentationEvents.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddNotificationService(NotificationSettings.FromConfiguration(builder.Configuration), builder.Configuration);

var app = builder.Build();
app.UseRequestBodyLimit(app.Configuration);
app.MapNotificationEndpoints();
app.MapTelemetryEndpoints();
app.Run();

public partial class Program;
